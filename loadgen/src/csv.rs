//! CSV helpers under both CSV files loadgen writes (the bench's runs.csv, `crate::report::csv`,
//! and one run's intervals, `crate::run::csv`): a table from named columns, each a function
//! of a row, with RFC 4180 quoting. Text in, text out: it imports nothing of the crate.
//!
//! A field that holds a comma, a double quote, a carriage return or a line feed is put in
//! double quotes, its quotes doubled; every other field is written as it is. A missing
//! figure is an empty field. Records end in `\n` (RFC 4180 says CRLF; every CSV reader
//! takes either, and `\n` keeps the files diffable). Numbers are written in full: Rust's
//! `{}` for an f64 is the shortest text that reads back to the same number.

use std::borrow::Cow;
use std::fmt::Display;
use std::io::{self, BufRead};

/// One column: its header and how a row's field is made (empty for a missing figure).
pub type Column<T> = (&'static str, fn(&T) -> String);

/// A table with a header row and one record per row.
pub fn table<'a, T: 'a>(columns: &[Column<T>], rows: impl IntoIterator<Item = &'a T>) -> String {
    let mut s = String::new();
    record(&mut s, columns.iter().map(|(name, _)| Cow::Borrowed(*name)));
    for row in rows {
        record(
            &mut s,
            columns.iter().map(|(_, field)| Cow::Owned(field(row))),
        );
    }
    s
}

/// Appends one record: the fields, quoted where they need it, then `\n`.
fn record<'a>(s: &mut String, fields: impl Iterator<Item = Cow<'a, str>>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&quote(&f));
    }
    s.push('\n');
}

/// A field as RFC 4180 writes it: in double quotes, quotes doubled, when it holds a comma,
/// a quote, CR or LF; else as it is.
pub fn quote(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// A figure in full (`{}`), or an empty field when there is none.
pub fn opt<T: Display>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// Reads CSV text back into records of fields, undoing [`quote`]; for tests and tools that
/// check what was written.
pub fn parse(text: &str) -> Vec<Vec<String>> {
    let mut reader = Reader::new(text.as_bytes());
    let mut records = Vec::new();
    let mut fields = Vec::new();
    // Reading from memory cannot fail.
    while reader.next_record(&mut fields).unwrap_or(false) {
        records.push(fields.clone());
    }
    records
}

/// Reads CSV records one at a time (JMeter's JTL files, the files loadgen writes): fields
/// split on commas, `"..."` quoting with `""` for a quote, line breaks allowed inside quotes,
/// blank lines skipped.
pub struct Reader<R> {
    input: R,
    line: String,
}

impl<R: BufRead> Reader<R> {
    /// A reader of `input`.
    pub fn new(input: R) -> Self {
        Reader {
            input,
            line: String::new(),
        }
    }

    /// The next record into `fields`; false at the end of the input. Blank lines are skipped.
    pub fn next_record(&mut self, fields: &mut Vec<String>) -> io::Result<bool> {
        fields.clear();
        let mut field = String::new();
        let mut quoted = false;
        loop {
            self.line.clear();
            if self.input.read_line(&mut self.line)? == 0 {
                if quoted || !field.is_empty() || !fields.is_empty() {
                    fields.push(field);
                    return Ok(true);
                }
                return Ok(false);
            }
            let text = self.line.trim_end_matches(['\n', '\r']);
            if !quoted && fields.is_empty() && field.is_empty() && text.is_empty() {
                continue;
            }
            let mut chars = text.chars().peekable();
            while let Some(c) = chars.next() {
                match (quoted, c) {
                    (true, '"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    (true, '"') => quoted = false,
                    (true, c) => field.push(c),
                    (false, '"') if field.is_empty() => quoted = true,
                    (false, ',') => fields.push(std::mem::take(&mut field)),
                    (false, c) => field.push(c),
                }
            }
            if quoted {
                // The line break is part of the quoted field.
                field.push('\n');
                continue;
            }
            fields.push(field);
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_or_line_breaks_are_quoted_and_read_back() {
        assert_eq!(quote("epoll"), "epoll");
        assert_eq!(quote(""), "");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
        assert_eq!(quote("cr\r"), "\"cr\r\"");
        let rows = [
            ("plain", Some(1.5)),
            ("a,b", None),
            ("exit 1: \"boom\"\nstderr tail", Some(0.1 + 0.2)),
        ];
        let columns: [Column<(&str, Option<f64>)>; 2] = [
            ("text", |r| r.0.to_string()),
            ("figure, full", |r| opt(r.1)),
        ];
        let csv = table(&columns, &rows);
        assert_eq!(
            csv,
            "text,\"figure, full\"\nplain,1.5\n\"a,b\",\n\"exit 1: \"\"boom\"\"\nstderr tail\",0.30000000000000004\n"
        );
        assert_eq!(
            parse(&csv),
            [
                vec!["text", "figure, full"],
                vec!["plain", "1.5"],
                vec!["a,b", ""],
                vec!["exit 1: \"boom\"\nstderr tail", "0.30000000000000004"],
            ]
        );
        assert_eq!(parse("a,\"\"\r\n,b"), [vec!["a", ""], vec!["", "b"]]);
    }
}
