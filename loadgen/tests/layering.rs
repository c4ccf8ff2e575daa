//! Every arrow between the files of a crate points one way: no file imports, directly or
//! through others, a file that imports it back (STYLE.md, "modules import downwards only").
//!
//! An arrow from file A to file B is any path in A that names an item or module of B:
//! a `use` (re-exports included: `pub use` in a `mod.rs` is an arrow to the child it
//! re-exports), or a path in code such as `super::Grid`, `crate::stats::Histogram` or, in a
//! parent, `text::render` for its child `text`. A path ends at the deepest module that is a
//! file of its own, so `crate::report::stats::verdict::paired` points at
//! `report/stats/verdict/mod.rs` however `paired` got there: inside a crate a file names
//! the file it takes from. `mod x;` declarations are not arrows, nor are paths in comments
//! and strings; `#[cfg(test)]` modules count like everything else. A file's arrows to
//! itself are dropped.
//!
//! Run with `cargo test -p loadgen --test layering`; a circle is printed with its files and
//! the shortest way round it, each arrow with its line. `LAYERING_ARROWS=1` (with
//! `-- --nocapture`) prints every arrow.

use std::fs;
use std::path::{Path, PathBuf};

/// A module path within its crate, e.g. `["report", "verdict"]`; the root is `[]`.
type ModPath = Vec<String>;

/// One arrow: from a file to another, with the line it was first seen on.
#[derive(Debug, Clone)]
struct Arrow {
    to: usize,
    line: usize,
}

/// The crate's files by module path, with their sources.
struct Crate {
    files: Vec<(ModPath, String, String)>, // (module path, file name, source)
}

impl Crate {
    /// Reads a crate whose root file is `root` (lib.rs or main.rs) in `src`. With a lib.rs,
    /// main.rs and bin/ are other crates and are left out.
    fn read(src: &Path) -> Crate {
        let mut files = Vec::new();
        let lib = src.join("lib.rs").exists();
        walk(src, src, lib, &mut files);
        files.sort_by(|a, b| a.1.cmp(&b.1));
        Crate { files }
    }

    fn index(&self, path: &[String]) -> Option<usize> {
        self.files.iter().position(|(m, ..)| m == path)
    }

    /// The file a resolved path lands in: the longest prefix of it that is a file.
    fn landing(&self, path: &[String]) -> Option<usize> {
        (0..=path.len()).rev().find_map(|n| self.index(&path[..n]))
    }

    fn arrows(&self) -> Vec<Vec<Arrow>> {
        self.files
            .iter()
            .enumerate()
            .map(|(me, (module, _, source))| {
                let mut out: Vec<Arrow> = Vec::new();
                for (scope, segments, line) in paths(&strip(source)) {
                    let mut base = module.clone();
                    base.extend(scope);
                    let Some(resolved) = self.resolve(&base, module, &segments) else {
                        continue;
                    };
                    if let Some(to) = self.landing(&resolved)
                        && to != me
                        && !out.iter().any(|a| a.to == to)
                    {
                        out.push(Arrow { to, line });
                    }
                }
                out
            })
            .collect()
    }

    /// Resolves `segments` used in module `base` (the file's module plus any inline modules
    /// around the use); None for paths into other crates or to local names.
    fn resolve(&self, base: &[String], file: &[String], segments: &[String]) -> Option<ModPath> {
        let mut at: ModPath = base.to_vec();
        let mut rest = segments;
        match rest.first()?.as_str() {
            "crate" => {
                at.clear();
                rest = &rest[1..];
            }
            "self" => rest = &rest[1..],
            "super" => {
                while rest.first().map(String::as_str) == Some("super") {
                    at.pop()?;
                    rest = &rest[1..];
                }
            }
            first => {
                // A bare first segment is a child module of the file's own module, or
                // nothing of this crate (a type, a local, another crate).
                let mut child = file.to_vec();
                child.push(first.to_string());
                self.index(&child)?;
                at = file.to_vec();
            }
        }
        at.extend(rest.iter().cloned());
        Some(at)
    }

    /// The circles: every strongly connected set of more than one file, each printed with
    /// its arrows.
    fn circles(&self) -> Vec<String> {
        let arrows = self.arrows();
        let n = self.files.len();
        let reach = |from: usize| {
            let mut seen = vec![false; n];
            let mut stack = vec![from];
            while let Some(f) = stack.pop() {
                for a in &arrows[f] {
                    if !seen[a.to] {
                        seen[a.to] = true;
                        stack.push(a.to);
                    }
                }
            }
            seen
        };
        let reaches: Vec<Vec<bool>> = (0..n).map(reach).collect();
        let mut done = vec![false; n];
        let mut out = Vec::new();
        for f in 0..n {
            if done[f] || !reaches[f][f] {
                continue;
            }
            let set: Vec<usize> = (0..n).filter(|&g| reaches[f][g] && reaches[g][f]).collect();
            for &g in &set {
                done[g] = true;
            }
            // The shortest circle through f, by breadth-first search, as an example.
            let mut came: Vec<Option<(usize, usize)>> = vec![None; n];
            let mut queue = std::collections::VecDeque::from([f]);
            'search: while let Some(g) = queue.pop_front() {
                for a in &arrows[g] {
                    if came[a.to].is_none() {
                        came[a.to] = Some((g, a.line));
                        if a.to == f {
                            break 'search;
                        }
                        queue.push_back(a.to);
                    }
                }
            }
            let mut steps = Vec::new();
            let mut at = f;
            while let Some((from, line)) = came[at] {
                steps.push(format!(
                    "{}:{line} -> {}",
                    self.files[from].1, self.files[at].1
                ));
                at = from;
                if at == f {
                    break;
                }
            }
            steps.reverse();
            let names: Vec<&str> = set.iter().map(|&g| self.files[g].1.as_str()).collect();
            out.push(format!(
                "{} files in one circle ({}), e.g.\n      {}",
                set.len(),
                names.join(", "),
                steps.join("\n      ")
            ));
        }
        out
    }
}

fn walk(src: &Path, dir: &Path, lib: bool, out: &mut Vec<(ModPath, String, String)>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path.strip_prefix(src).expect("under src");
        if path.is_dir() {
            if !(lib && rel == Path::new("bin")) {
                walk(src, &path, lib, out);
            }
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let mut module: ModPath = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        match module.last().map(String::as_str) {
            Some("mod") => {
                module.pop();
            }
            Some("lib") if module.len() == 1 => module.clear(),
            Some("main") if module.len() == 1 => {
                if lib {
                    continue;
                }
                module.clear();
            }
            _ => {}
        }
        let source = fs::read_to_string(&path).expect("read source");
        out.push((module, rel.display().to_string(), source));
    }
}

/// The source with comments and string literals blanked (newlines kept, so line numbers
/// stay right).
fn strip(source: &str) -> String {
    let b = source.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut String, bytes: &[u8]| {
        for &c in bytes {
            out.push(if c == b'\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        let end = if rest.starts_with(b"//") {
            rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            let mut j = 0;
            loop {
                if j + 1 >= rest.len() {
                    break rest.len();
                }
                if rest[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break j;
                    }
                } else {
                    j += 1;
                }
            }
        } else if let Some(n) = raw_string(rest) {
            n
        } else if rest[0] == b'"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            (j + 1).min(rest.len())
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '"'); a lifetime ('a) is kept.
            let close = if rest.get(1) == Some(&b'\\') {
                rest.iter().skip(2).position(|&c| c == b'\'').map(|p| p + 3)
            } else {
                let len = std::str::from_utf8(&rest[1..rest.len().min(5)])
                    .ok()
                    .or_else(|| std::str::from_utf8(&rest[1..2]).ok())
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                (rest.get(1 + len) == Some(&b'\'')).then_some(len + 2)
            };
            match close {
                Some(n) => n,
                None => {
                    out.push('\'');
                    i += 1;
                    continue;
                }
            }
        } else {
            let c = source[i..].chars().next().expect("char");
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        blank(&mut out, &rest[..end]);
        i += end;
    }
    out
}

/// The length of a raw string literal (r"..", r#".."#, br".."), if one starts here.
fn raw_string(rest: &[u8]) -> Option<usize> {
    let start = if rest.starts_with(b"br") {
        2
    } else if rest.starts_with(b"r") {
        1
    } else {
        0
    };
    if start == 0 {
        return None;
    }
    let hashes = rest[start..].iter().take_while(|&&c| c == b'#').count();
    if rest.get(start + hashes) != Some(&b'"') {
        return None;
    }
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let body = start + hashes + 1;
    let end = rest[body..]
        .windows(close.len())
        .position(|w| w == close.as_slice())?;
    Some(body + end + close.len())
}

/// Every path in the (stripped) source: `use` trees expanded, and `a::b` paths in code,
/// each with the inline modules around it and its line.
fn paths(code: &str) -> Vec<(ModPath, Vec<String>, usize)> {
    let tokens = tokenize(code);
    let mut out = Vec::new();
    let mut inline: Vec<(String, usize)> = Vec::new(); // (module, brace depth inside it)
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let (tok, line) = (&tokens[i].0, tokens[i].1);
        let scope = || inline.iter().map(|(m, _)| m.clone()).collect::<ModPath>();
        match tok.as_str() {
            "{" => depth += 1,
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t.0 == "{") => {
                inline.push((tokens[i + 1].0.clone(), depth + 1));
            }
            "use" => {
                let end = (i..tokens.len())
                    .find(|&j| tokens[j].0 == ";")
                    .unwrap_or(tokens.len());
                let tree: Vec<&str> = tokens[i + 1..end].iter().map(|t| t.0.as_str()).collect();
                for p in expand(&tree) {
                    out.push((scope(), p, line));
                }
                i = end;
            }
            _ if is_ident(tok)
                && tokens.get(i + 1).is_some_and(|t| t.0 == "::")
                && (i == 0 || tokens[i - 1].0 != "::") =>
            {
                let mut p = vec![tok.clone()];
                let mut j = i + 1;
                while tokens.get(j).is_some_and(|t| t.0 == "::")
                    && tokens.get(j + 1).is_some_and(|t| is_ident(&t.0))
                {
                    p.push(tokens[j + 1].0.clone());
                    j += 2;
                }
                out.push((scope(), p, line));
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::`, braces, commas and `;`, each with its line; everything else dropped
/// except as a separator.
fn tokenize(code: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut line = 1;
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
        }
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((chars[start..i].iter().collect(), line));
            continue;
        }
        if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(("::".into(), line));
            i += 2;
            continue;
        }
        if matches!(c, '{' | '}' | ',' | ';' | '*') {
            out.push((c.to_string(), line));
        } else if !c.is_whitespace() {
            out.push(("#".into(), line)); // any other punctuation ends a path
        }
        i += 1;
    }
    out
}

/// A `use` tree's paths: `a::{b::{c, d}, e as f, self}` gives a::b::c, a::b::d, a::e, a.
fn expand(tree: &[&str]) -> Vec<Vec<String>> {
    fn go(t: &[&str], prefix: &[String], out: &mut Vec<Vec<String>>) {
        let mut path = prefix.to_vec();
        let mut i = 0;
        while i < t.len() {
            match t[i] {
                "::" => {}
                "{" => {
                    // Split the group at its top-level commas.
                    let mut depth = 0;
                    let mut start = i + 1;
                    for j in i..t.len() {
                        match t[j] {
                            "{" => depth += 1,
                            "}" => {
                                depth -= 1;
                                if depth == 0 {
                                    go(&t[start..j], &path, out);
                                    return;
                                }
                            }
                            "," if depth == 1 => {
                                go(&t[start..j], &path, out);
                                start = j + 1;
                            }
                            _ => {}
                        }
                    }
                    return;
                }
                "as" => break,
                "self" if !path.is_empty() => {}
                "*" => break,
                "pub" | "#" if path.is_empty() => {}
                w => path.push(w.to_string()),
            }
            i += 1;
        }
        if !path.is_empty() {
            out.push(path);
        }
    }
    let mut out = Vec::new();
    go(tree, &[], &mut out);
    out
}

fn check(src: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
    let krate = Crate::read(&dir);
    assert!(krate.files.len() > 1, "{}: no files read", dir.display());
    if std::env::var_os("LAYERING_ARROWS").is_some() {
        for (from, arrows) in krate.arrows().iter().enumerate() {
            for a in arrows {
                println!(
                    "{}:{} -> {}",
                    krate.files[from].1, a.line, krate.files[a.to].1
                );
            }
        }
    }
    let circles = krate.circles();
    assert!(
        circles.is_empty(),
        "{} has {} import circle(s):\n  {}",
        src,
        circles.len(),
        circles.join("\n  ")
    );
}

#[test]
fn loadgen_has_no_import_circle() {
    check("src");
}

#[test]
fn common_has_no_import_circle() {
    check("../common/src");
}

#[test]
fn the_hand_written_servers_have_no_import_circle() {
    for server in ["epoll", "uring", "reactor-pool"] {
        check(&format!("../servers/{server}/src"));
    }
}

/// The checker itself finds circles through `use`, `super::` paths and parents' paths to
/// children, and lets one-way arrows, comments and strings pass.
#[test]
fn a_circle_is_found_and_one_way_arrows_pass() {
    let files = |list: &[(&str, &str)]| Crate {
        files: list
            .iter()
            .map(|(name, src)| {
                let module: ModPath = name
                    .trim_end_matches(".rs")
                    .trim_end_matches("/mod")
                    .split('/')
                    .filter(|s| !s.is_empty() && *s != "lib")
                    .map(String::from)
                    .collect();
                (module, name.to_string(), src.to_string())
            })
            .collect(),
    };
    let one_way = files(&[
        (
            "lib.rs",
            "pub mod a; pub mod b;\n// crate::b::x in a comment\n",
        ),
        (
            "a/mod.rs",
            "pub mod c;\nuse crate::b::{self, Thing as T};\nfn f() { c::go(); }",
        ),
        (
            "a/c.rs",
            "pub fn go() { let s = \"super::super::a\"; crate::b::run(); }",
        ),
        (
            "b.rs",
            "pub struct Thing; pub fn run() {}\n#[cfg(test)] mod tests { use super::*; }",
        ),
    ]);
    assert_eq!(one_way.circles(), Vec::<String>::new());

    let by_use = files(&[
        ("lib.rs", "pub mod a; pub mod b;"),
        ("a.rs", "use crate::b::{x::{Y}, z};"),
        ("b.rs", "pub fn z() { crate::a::f() }"),
    ]);
    assert_eq!(by_use.circles().len(), 1, "{:?}", by_use.circles());

    let parent_child = files(&[
        ("lib.rs", "pub mod r;"),
        (
            "r/mod.rs",
            "mod text;\npub struct Report;\nfn show() { text::render() }",
        ),
        ("r/text.rs", "use super::Report;\npub fn render() {}"),
    ]);
    let circles = parent_child.circles();
    assert_eq!(circles.len(), 1);
    assert!(
        circles[0].contains("r/mod.rs:3 -> r/text.rs"),
        "{}",
        circles[0]
    );
    assert!(
        circles[0].contains("r/text.rs:1 -> r/mod.rs"),
        "{}",
        circles[0]
    );
}
