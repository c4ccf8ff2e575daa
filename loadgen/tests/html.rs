//! loadgen's HTML pages in a real browser: Debian's chromium, headless, opens each page from
//! `file://` and dumps the DOM its scripts left, which is checked against the contract the
//! pages keep (the page generator's side of it is in `loadgen/src/report` and `run`):
//!
//! - no external request: statically, no http(s) or protocol-relative URL in any `src=`,
//!   `href=` or CSS `url(` of the file, and the contract's Content-Security-Policy meta in it;
//!   in the browser, that policy blocks any load all the same and the page counts the
//!   violation in `data-errors`, and chromium logs it;
//! - no console error: `data-errors="0"` on `<html>` (the page counts `window.onerror`,
//!   `console.error` and policy violations; when it is not 0 the failure shows the text of
//!   `#echolab-errors`), and no console message at all in chromium's log (its log does not
//!   say a message's level, so a page under test logs nothing);
//! - drawn: `data-rendered="ok"`; every `figure.chart` has `data-points` > 0;
//! - tables: every `table` has a `data-rows` with the rows of its `<tbody>`; the bench page has
//!   at least one `table.verdicts` with rows, and relative links to raw.json and runs.csv
//!   (which `loadgen report` wrote beside it);
//! - the embedded data (`#echolab-data`) is JSON with the page's kind.
//!
//! The pages: `loadgen report` of the fixture bench `interleaved` (report.html), `loadgen
//! --html` of a 1 s run against an epoll server, and `loadgen compare interleaved
//! interleaved-again --html`. Before them, the checker is shown to catch what it must: pages
//! made here that keep the contract except for one console error, one external image, or one
//! chart without points fail, and one that keeps it passes.
//!
//! Chromium's stderr also carries its own noise, which is tolerated: on a machine without a
//! session bus or GPU (CI, containers) dozens of `ERROR:dbus/...` lines, vaapi's "no
//! devices", the sandbox's "multiple threads", bluez/UPower/ScreenSaver warnings, and
//! Debian's launcher's `[: ... unexpected operator`. Only lines about the page count: a
//! `CONSOLE` line, a refused or blocked load, a `net::ERR_` failure.
//!
//! Each chromium run is killed after 60 s (a failure); runs go one at a time. Here (2 shared
//! cores, chromium 156) one run of a small page takes about 0.7 s, and the four checks of
//! the checker together 2 s; loadgen's three pages add three runs, a 1 s load run and two
//! renders (not yet timed where the pages exist: expected well under 15 s for the file).
//! When chromium is missing the test fails and says to run scripts/deps.sh: it never skips.

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::testkit::Server;

/// Longest a chromium run may take before it is killed and the test fails.
const LIMIT: Duration = Duration::from_secs(60);

/// The policy every page carries (the contract, point 1).
const CSP: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

/// One chromium at a time: the machine has few cores and the 60 s limit is per run.
static CHROMIUM: Mutex<()> = Mutex::new(());

/// What chromium left: the DOM after the page's scripts ran, and its log.
struct Rendered {
    dom: String,
    log: String,
}

/// Debian's chromium on PATH, or a failure that says how to install it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed: the browser test needs Debian's chromium package; \
                 run scripts/deps.sh as root (it installs it), then run the test again"
            )
        })
}

/// A fresh, empty folder for this test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-html-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Opens `page` in headless chromium with a fresh profile and returns its DOM and log.
fn render(page: &Path) -> Rendered {
    let _one = CHROMIUM.lock().unwrap_or_else(|e| e.into_inner());
    let profile = tempdir_beside(page);
    let url = format!(
        "file://{}",
        page.canonicalize().expect("page exists").display()
    );
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start chromium");
    let pipe = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let dom = pipe(Box::new(child.stdout.take().expect("stdout")));
    let log = pipe(Box::new(child.stderr.take().expect("stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > LIMIT {
            // The launcher is a shell script: kill its whole process group.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            panic!("chromium took over {LIMIT:?} on {url}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let rendered = Rendered {
        dom: dom.join().expect("stdout reader"),
        log: log.join().expect("stderr reader"),
    };
    let _ = fs::remove_dir_all(&profile);
    assert!(
        status.success(),
        "chromium exited with {status} on {url}:\n{}",
        rendered.log
    );
    rendered
}

/// A fresh chromium profile folder next to the page.
fn tempdir_beside(page: &Path) -> PathBuf {
    let dir = page.with_extension("profile");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("profile folder");
    dir
}

/// What a page must have besides the contract's common points.
#[derive(Clone, Copy)]
struct Expect {
    /// The `page` field of its embedded JSON.
    page: &'static str,
    /// Charts it must draw at least.
    charts: usize,
    /// A `table.verdicts` with rows, and links to raw.json and runs.csv (the bench page).
    bench: bool,
}

/// Everything wrong with `page` as chromium rendered it; empty when it keeps the contract.
fn problems(page: &Path, expect: Expect) -> Vec<String> {
    let source = fs::read_to_string(page)
        .unwrap_or_else(|e| panic!("{}: {e}: loadgen wrote no page there", page.display()));
    let mut out = Vec::new();
    for url in external_urls(&source) {
        out.push(format!("external URL in the file: {url}"));
    }
    if !source.contains(CSP) {
        out.push("no Content-Security-Policy with the contract's policy".into());
    }
    match embedded_data(&source) {
        Some(data) if data["page"] == expect.page => {}
        Some(data) => out.push(format!(
            "#echolab-data's page is {}, not {:?}",
            data["page"], expect.page
        )),
        None => out.push("no #echolab-data JSON".into()),
    }

    let r = render(page);
    for line in r.log.lines().filter(|l| about_the_page(l)) {
        out.push(format!("chromium's log: {line}"));
    }
    let dom = markup_only(&r.dom);
    let html = start_tags(&dom, "html")
        .into_iter()
        .next()
        .unwrap_or_default();
    if attr(&html, "data-rendered") != Some("ok") {
        out.push(format!(
            "data-rendered is {:?}, not \"ok\"",
            attr(&html, "data-rendered")
        ));
    }
    if attr(&html, "data-errors") != Some("0") {
        out.push(format!(
            "data-errors is {:?}, not \"0\"; #echolab-errors: {}",
            attr(&html, "data-errors"),
            element_text(&r.dom, "pre", "echolab-errors").unwrap_or_default()
        ));
    }
    let charts: Vec<_> = start_tags(&dom, "figure")
        .into_iter()
        .filter(|a| has_class(a, "chart"))
        .collect();
    if charts.len() < expect.charts {
        out.push(format!(
            "{} chart(s) drawn, {} expected at least",
            charts.len(),
            expect.charts
        ));
    }
    for c in &charts {
        let points = attr(c, "data-points").and_then(|p| p.parse::<u64>().ok());
        if points.is_none_or(|p| p == 0) {
            out.push(format!(
                "chart {:?} has data-points {:?}",
                attr(c, "data-chart").unwrap_or("?"),
                attr(c, "data-points")
            ));
        }
    }
    let mut verdicts = 0;
    for (rows, body_rows, verdict) in tables(&dom) {
        if rows != Some(body_rows) {
            out.push(format!(
                "a table says data-rows {rows:?} but has {body_rows} rows in its tbody"
            ));
        }
        if verdict && body_rows > 0 {
            verdicts += 1;
        }
    }
    if expect.bench {
        if verdicts == 0 {
            out.push("no table.verdicts with rows".into());
        }
        for link in ["raw.json", "runs.csv"] {
            // The page's script draws its links, so they are looked for in the drawn DOM.
            if !dom.contains(&format!("href=\"{link}\"")) {
                out.push(format!("no link to {link}"));
            }
            if !page.with_file_name(link).is_file() {
                out.push(format!("no {link} beside the page"));
            }
        }
    }
    out
}

/// Fails with every problem of `page`, or passes.
fn assert_keeps_the_contract(page: &Path, expect: Expect) {
    let found = problems(page, expect);
    assert!(
        found.is_empty(),
        "{} breaks the page contract:\n- {}",
        page.display(),
        found.join("\n- ")
    );
}

/// A line of chromium's log about the page: a console message, a refused or blocked load,
/// a network failure. Everything else is chromium's own noise (see the file's header).
fn about_the_page(line: &str) -> bool {
    [
        ":CONSOLE",
        "Refused to",
        "Content Security Policy",
        "blocked",
        "net::ERR_",
        "Failed to load resource",
    ]
    .iter()
    .any(|p| line.contains(p))
}

/// Every http(s) or protocol-relative URL given to a `src=`, `href=` or CSS `url(`.
fn external_urls(source: &str) -> Vec<String> {
    let lower = source.to_ascii_lowercase();
    let mut found = Vec::new();
    for key in ["src=", "href=", "url("] {
        for (at, _) in lower.match_indices(key) {
            let rest = lower[at + key.len()..].trim_start_matches([' ', '"', '\'', '\\']);
            if rest.starts_with("http:") || rest.starts_with("https:") || rest.starts_with("//") {
                let end = rest
                    .find(|c: char| c.is_whitespace() || "\"'<>)".contains(c))
                    .unwrap_or(rest.len());
                found.push(format!("{key}{}", &rest[..end]));
            }
        }
    }
    found
}

/// The page's embedded JSON (`<script type="application/json" id="echolab-data">`).
fn embedded_data(source: &str) -> Option<serde_json::Value> {
    let at = source.find("id=\"echolab-data\"")?;
    let start = at + source[at..].find('>')? + 1;
    let end = start + source[start..].find("</script>")?;
    serde_json::from_str(&source[start..end]).ok()
}

/// The markup with the contents of scripts, styles and comments taken out, so that a
/// script's text that builds markup is not read as markup.
fn markup_only(dom: &str) -> String {
    let mut out = String::new();
    let mut rest = dom;
    loop {
        let next = [
            ("<script", "</script>"),
            ("<style", "</style>"),
            ("<!--", "-->"),
        ]
        .iter()
        .filter_map(|(open, close)| rest.find(open).map(|i| (i, *open, *close)))
        .min();
        let Some((i, open, close)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        let tag_end = if open == "<!--" {
            i
        } else {
            i + rest[i..].find('>').map_or(rest.len() - i, |e| e + 1)
        };
        out.push_str(&rest[i..tag_end]);
        rest = match rest[tag_end..].find(close) {
            Some(e) => &rest[tag_end + e..],
            None => "",
        };
        if open == "<!--" {
            rest = rest.strip_prefix("-->").unwrap_or(rest);
        }
    }
}

type Attrs = Vec<(String, String)>;

/// The attributes of every start tag named `name`, in order.
fn start_tags(dom: &str, name: &str) -> Vec<Attrs> {
    let open = format!("<{name}");
    let mut tags = Vec::new();
    for (at, _) in dom.match_indices(&open) {
        let rest = &dom[at + open.len()..];
        if rest.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
            tags.push(attributes(rest));
        }
    }
    tags
}

/// The attributes at the start of `s` (just after the tag's name), up to its `>`.
fn attributes(s: &str) -> Attrs {
    let mut attrs = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars
            .next_if(|(_, c)| c.is_whitespace() || *c == '/')
            .is_some()
        {}
        match chars.peek() {
            None | Some((_, '>')) => return attrs,
            _ => {}
        }
        let mut name = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && !"=>/".contains(*c)) {
            name.push(c);
        }
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '=').is_some() {
            match chars.next_if(|(_, c)| *c == '"' || *c == '\'') {
                Some((_, q)) => {
                    for (_, c) in chars.by_ref() {
                        if c == q {
                            break;
                        }
                        value.push(c);
                    }
                }
                None => {
                    while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '>')
                    {
                        value.push(c);
                    }
                }
            }
        }
        attrs.push((name.to_ascii_lowercase(), unescape(&value)));
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

fn attr<'a>(attrs: &'a Attrs, name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn has_class(attrs: &Attrs, class: &str) -> bool {
    attr(attrs, "class").is_some_and(|c| c.split_whitespace().any(|w| w == class))
}

/// Every table: its `data-rows` (None when it has none, which the contract does not allow),
/// the rows in its tbody, and whether it is a verdict table.
fn tables(dom: &str) -> Vec<(Option<usize>, usize, bool)> {
    let mut out = Vec::new();
    for (at, _) in dom.match_indices("<table") {
        let attrs = attributes(&dom[at + "<table".len()..]);
        let rows = attr(&attrs, "data-rows");
        let table = &dom[at..at + dom[at..].find("</table>").unwrap_or(dom.len() - at)];
        let body = table
            .find("<tbody")
            .map(|b| &table[b..table.find("</tbody>").unwrap_or(table.len())]);
        let body_rows = body.map_or(0, |b| start_tags(b, "tr").len());
        out.push((
            rows.and_then(|r| r.parse().ok()),
            body_rows,
            has_class(&attrs, "verdicts"),
        ));
    }
    out
}

/// The text inside the element `<tag id="id">`, tags and entities undone.
fn element_text(dom: &str, tag: &str, id: &str) -> Option<String> {
    let at = dom.find(&format!("<{tag} id=\"{id}\""))?;
    let start = at + dom[at..].find('>')? + 1;
    let end = start + dom[start..].find(&format!("</{tag}>"))?;
    Some(unescape(&dom[start..end]))
}

// ---- the checker, shown to catch what it must ----

/// A small page that keeps the contract, with `script` run where the page draws and `body`
/// at the end of its body.
fn contract_page(script: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>contract page</title></head><body>
<script type="application/json" id="echolab-data">{{"page": "bench"}}</script>
<figure class="chart" data-chart="throughput"><svg width="40" height="20"></svg></figure>
<table class="verdicts" data-rows="1" data-point="100" data-metric="msg/s">
<thead><tr><th>model</th></tr></thead><tbody><tr><td>epoll</td></tr></tbody></table>
<a href="raw.json">raw.json</a> <a href="runs.csv">runs.csv</a>
<script>
(function () {{
  var root = document.documentElement;
  root.setAttribute('data-errors', '0');
  function pre() {{
    var p = document.getElementById('echolab-errors');
    if (!p) {{ p = document.createElement('pre'); p.id = 'echolab-errors'; p.hidden = true; document.body.appendChild(p); }}
    return p;
  }}
  function error(m) {{
    root.setAttribute('data-errors', String(Number(root.getAttribute('data-errors')) + 1));
    pre().textContent += m + '\n';
  }}
  window.onerror = function (m) {{ error(String(m)); }};
  var consoleError = console.error;
  console.error = function () {{ error(Array.prototype.join.call(arguments, ' ')); consoleError.apply(console, arguments); }};
  document.addEventListener('securitypolicyviolation', function (e) {{ error('blocked ' + e.blockedURI + ' (' + e.violatedDirective + ')'); }});
  // Markup in a script's text is not markup: the checker must not count this figure.
  var template = '<figure class="chart" data-chart="' + 'template' + '">';
  try {{
    var f = document.querySelector('figure.chart[data-chart="throughput"]');
    var c = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
    c.setAttribute('cx', '10'); c.setAttribute('cy', '10'); c.setAttribute('r', '2');
    f.querySelector('svg').appendChild(c);
    f.setAttribute('data-points', '1');
    {script}
    root.setAttribute('data-rendered', 'ok');
  }} catch (e) {{ root.setAttribute('data-rendered', 'error'); error(String(e)); }}
}})();
</script>
{body}
</body></html>
"#
    )
}

/// Writes a contract page (with raw.json and runs.csv beside it) and returns what the
/// checker finds wrong with it.
fn check_made_page(name: &str, script: &str, body: &str) -> Vec<String> {
    let dir = scratch(name);
    fs::write(dir.join("raw.json"), "{}").unwrap();
    fs::write(dir.join("runs.csv"), "suite\n").unwrap();
    let page = dir.join("report.html");
    fs::write(&page, contract_page(script, body)).unwrap();
    let found = problems(&page, BENCH);
    let _ = fs::remove_dir_all(&dir);
    found
}

const BENCH: Expect = Expect {
    page: "bench",
    charts: 1,
    bench: true,
};

fn any(found: &[String], part: &str) -> bool {
    found.iter().any(|p| p.contains(part))
}

#[test]
fn the_checker_passes_a_page_that_keeps_the_contract() {
    let found = check_made_page("good", "", "");
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_checker_catches_a_console_error() {
    let found = check_made_page("console", "console.error('deliberate console error');", "");
    assert!(
        any(&found, "data-errors is Some(\"1\")") && any(&found, "deliberate console error"),
        "the page's own count, with the message: {found:#?}"
    );
    assert!(
        any(&found, "chromium's log:") && any(&found, ":CONSOLE"),
        "chromium's log: {found:#?}"
    );
}

#[test]
fn the_checker_catches_an_external_request() {
    let img = r#"<img src="https://example.invalid/x.png" alt="">"#;
    let found = check_made_page("external", "", img);
    assert!(
        any(
            &found,
            "external URL in the file: src=https://example.invalid/x.png"
        ),
        "the file itself: {found:#?}"
    );
    assert!(
        any(&found, "data-errors is Some(\"1\")") && any(&found, "blocked https://example.invalid"),
        "the policy's violation, counted by the page: {found:#?}"
    );
    assert!(
        any(&found, "chromium's log:") && any(&found, "Content Security Policy"),
        "chromium's log: {found:#?}"
    );
}

#[test]
fn the_checker_catches_a_chart_without_points_and_a_page_that_throws() {
    let found = check_made_page("undrawn", "f.removeAttribute('data-points'); null.x;", "");
    assert!(
        any(&found, "chart \"throughput\" has data-points None"),
        "{found:#?}"
    );
    assert!(
        any(&found, "data-rendered is Some(\"error\")"),
        "{found:#?}"
    );
}

// ---- loadgen's pages ----

/// A scratch folder with copies of the named fixture benches.
fn fixtures(test: &str, names: &[&str]) -> PathBuf {
    let dir = scratch(test);
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/benches");
    for name in names {
        fs::create_dir_all(dir.join(name)).unwrap();
        fs::copy(
            here.join(name).join("raw.json"),
            dir.join(name).join("raw.json"),
        )
        .expect("copy the fixture");
    }
    dir
}

/// Runs the real binary in `dir`; fails unless it exits 0.
fn loadgen(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run loadgen");
    assert!(
        out.status.success(),
        "loadgen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_bench_page_of_a_fixture_bench_keeps_the_contract() {
    let dir = fixtures("bench", &["interleaved"]);
    loadgen(&dir, &["report", "interleaved"]);
    assert_keeps_the_contract(&dir.join("interleaved/report.html"), BENCH);
}

#[test]
fn the_page_of_one_run_keeps_the_contract() {
    let server = Server::start("epoll", &[]);
    let dir = scratch("run");
    let port = server.addr.port().to_string();
    loadgen(
        &dir,
        &[
            "--port",
            &port,
            "--threads",
            "4",
            "--duration",
            "1s",
            "--summary-interval",
            "250ms",
            "--html",
            "run.html",
        ],
    );
    let expect = Expect {
        page: "run",
        charts: 2,
        bench: false,
    };
    assert_keeps_the_contract(&dir.join("run.html"), expect);
}

#[test]
fn the_compare_page_of_two_benches_keeps_the_contract() {
    let dir = fixtures("compare", &["interleaved", "interleaved-again"]);
    loadgen(
        &dir,
        &[
            "compare",
            "interleaved",
            "interleaved-again",
            "--html",
            "compare.html",
        ],
    );
    let expect = Expect {
        page: "compare",
        charts: 0,
        bench: false,
    };
    assert_keeps_the_contract(&dir.join("compare.html"), expect);
}
