//! Markdown helpers under every table echolab writes (the bench's summary and the compare
//! of two runs): a table from a header and rows, numbers with thousands separators,
//! microseconds as milliseconds. Text in, text out: it imports nothing of the crate.

use std::fmt::Write as _;

/// A table from a header and rows; the first column is left-aligned, the others right.
pub fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n|", header.join(" | "));
    for i in 0..header.len() {
        s.push_str(if i == 0 { "---|" } else { "---:|" });
    }
    s.push('\n');
    for row in rows {
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    s
}

/// A row of fixed cells, such as a table's header.
pub fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// A number with thousands separators and `decimals` decimals.
pub fn num(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(a, b)| (a, b));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

/// Microseconds as milliseconds with sensible precision.
pub fn ms(us: f64) -> String {
    let m = us / 1000.0;
    match m {
        m if m < 10.0 => format!("{m:.2}"),
        m if m < 100.0 => format!("{m:.1}"),
        m => num(m, 0),
    }
}

/// Microseconds as milliseconds ([`ms`]), or `-` when there is no figure.
pub fn ms_or_dash(us: Option<f64>) -> String {
    us.map_or("-".into(), ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_tables() {
        assert_eq!(num(1234567.891, 1), "1,234,567.9");
        assert_eq!(num(999.0, 0), "999");
        assert_eq!(num(-1000.0, 0), "-1,000");
        assert_eq!(ms(1234.0), "1.23");
        assert_eq!(ms(123_456.0), "123");
        assert_eq!(ms_or_dash(None), "-");
        let t = table(&row(&["model", "x"]), &[vec!["epoll".into(), "1".into()]]);
        assert_eq!(t, "| model | x |\n|---|---:|\n| epoll | 1 |\n");
    }
}
