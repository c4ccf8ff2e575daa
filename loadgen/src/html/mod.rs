//! The HTML pages' floor: one self-contained file per page (`loadgen report` writes the
//! bench's report.html, `loadgen --html` one run's, `loadgen compare A B --html` a
//! comparison's). The builders above (`crate::run::html`, `crate::report::html`,
//! `crate::report::compare_benches::html`) compute every figure in Rust into a [`Page`];
//! [`render`] writes it as embedded JSON inside a page whose inline script only draws it:
//! line charts (log or "nines" axes, intervals as whiskers or bands, a tooltip with the
//! exact value), forest plots, sortable tables and metric switches.
//!
//! The page follows the contract its browser test checks: a Content-Security-Policy that
//! forbids every request, the data in `<script type="application/json" id="echolab-data">`,
//! a status script that counts errors into `data-errors` and sets `data-rendered`, every
//! chart a `<figure class="chart" data-chart=NAME data-points=N>`, every table a
//! `<table class=NAME data-rows=N>`. Imports nothing of the crate.

use serde::Serialize;

/// The policy that blocks every request the page could make.
pub const CSP: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

const CSS: &str = include_str!("page.css");
const STATUS_JS: &str = include_str!("status.js");
const KIT_JS: &str = include_str!("kit.js");

/// A whole page, as its script reads it.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// `bench`, `run` or `compare`.
    pub page: &'static str,
    /// The heading and the window's title.
    pub title: String,
    /// Name and value lines under the heading (the environment, the settings).
    pub header: Vec<(String, String)>,
    /// Links under the header (relative: raw.json, runs.csv).
    pub links: Vec<Link>,
    /// The sections, in order; a section with nothing to show is left out by its builder.
    pub sections: Vec<Section>,
}

/// A relative link.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// Relative address.
    pub href: String,
    /// Its words.
    pub text: String,
}

/// A section of the page: a heading, paragraphs, then its blocks.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// Anchor.
    pub id: String,
    /// Heading.
    pub title: String,
    /// Paragraphs under the heading.
    pub text: Vec<String>,
    /// Charts, tables, switches.
    pub blocks: Vec<Block>,
}

/// One thing a section shows.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Block {
    /// A table.
    Table(Table),
    /// A line chart.
    Line(LineChart),
    /// A forest plot of ratios.
    Forest(Forest),
    /// Buttons that show one of several groups of blocks (a metric, a point).
    Switch(Switch),
    /// A bulleted list.
    List { items: Vec<String> },
    /// A sub-heading.
    Heading { text: String },
}

/// A table; cells are numbers (sorted as numbers) or words.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// Its class (`verdicts` for the bench's verdict tables).
    pub class: String,
    /// More attributes of the `<table>` (`data-point`, `data-metric`).
    pub attrs: Vec<(String, String)>,
    /// Column headings.
    pub columns: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<Cell>>,
}

/// A table cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// A number, shown with up to five significant digits (integers whole).
    Num(f64),
    /// Words.
    Text(String),
    /// Nothing (shown as `-`).
    None,
}

impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        if v.is_finite() {
            Cell::Num(sig(v))
        } else {
            Cell::None
        }
    }
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Cell {
        v.map_or(Cell::None, Cell::from)
    }
}

impl From<u64> for Cell {
    fn from(v: u64) -> Cell {
        Cell::Num(v as f64)
    }
}

impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Text(v.to_string())
    }
}

impl From<String> for Cell {
    fn from(v: String) -> Cell {
        Cell::Text(v)
    }
}

/// One axis of a line chart.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Axis {
    /// Its label, with the unit.
    pub label: String,
    /// Logarithmic.
    pub log: bool,
    /// Percentiles on a "nines" axis: x is a percentile, drawn at -log10(1 - x/100), so
    /// that 90, 99 and 99.9 stand evenly apart.
    pub nines: bool,
}

impl Axis {
    /// A linear axis.
    pub fn linear(label: &str) -> Axis {
        Axis {
            label: label.into(),
            ..Axis::default()
        }
    }

    /// A logarithmic axis.
    pub fn log(label: &str) -> Axis {
        Axis {
            label: label.into(),
            log: true,
            ..Axis::default()
        }
    }

    /// A percentile axis in nines.
    pub fn nines(label: &str) -> Axis {
        Axis {
            label: label.into(),
            nines: true,
            ..Axis::default()
        }
    }
}

/// A line chart: series of points, each with an optional interval.
#[derive(Debug, Clone, Serialize)]
pub struct LineChart {
    /// `data-chart` name, unique on the page.
    pub name: String,
    /// Caption.
    pub title: String,
    /// The x axis.
    pub x: Axis,
    /// The y axis.
    pub y: Axis,
    /// Intervals drawn as a band (true) or whiskers (false).
    pub band: bool,
    /// The lines.
    pub series: Vec<Series>,
}

impl LineChart {
    /// A chart with no series yet.
    pub fn new(name: String, title: String, x: Axis, y: Axis) -> LineChart {
        LineChart {
            name,
            title,
            x,
            y,
            band: false,
            series: Vec::new(),
        }
    }

    /// True when some series has a point.
    pub fn has_points(&self) -> bool {
        self.series.iter().any(|s| !s.x.is_empty())
    }
}

/// One line: compact arrays of equal length (`lo` and `hi` empty without intervals).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// x values; 1, 2, 3, ... (blocks) are written `{"from": 1, "n": 150}`.
    #[serde(serialize_with = "compact_x")]
    pub x: Vec<f64>,
    /// y values.
    #[serde(serialize_with = "compact")]
    pub y: Vec<f64>,
    /// Lower ends of the intervals.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "compact")]
    pub lo: Vec<f64>,
    /// Upper ends.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "compact")]
    pub hi: Vec<f64>,
}

impl Series {
    /// An empty series called `name`.
    pub fn named(name: &str) -> Series {
        Series {
            name: name.into(),
            ..Series::default()
        }
    }

    /// Adds a point (rounded to five significant digits).
    pub fn push(&mut self, x: f64, y: f64) {
        self.x.push(sig(x));
        self.y.push(sig(y));
    }

    /// Adds a point with its interval.
    pub fn push_interval(&mut self, x: f64, y: f64, lo: f64, hi: f64) {
        self.push(x, y);
        self.lo.push(sig(lo));
        self.hi.push(sig(hi));
    }
}

/// Numbers as JSON with whole ones written without `.0` (`12` not `12.0`): thousands of
/// points over time stay small.
fn compact<S: serde::Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for &x in v {
        if x.fract() == 0.0 && x.abs() < 1e15 {
            seq.serialize_element(&(x as i64))?;
        } else {
            seq.serialize_element(&x)?;
        }
    }
    seq.end()
}

/// x values as [`compact`], or `{"from": A, "n": N}` for N > 3 whole numbers that count up
/// by one from A.
fn compact_x<S: serde::Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let counts = v.len() > 3 && v[0].fract() == 0.0 && v.windows(2).all(|w| w[1] == w[0] + 1.0);
    if !counts {
        return compact(v, s);
    }
    let mut st = s.serialize_struct("Run", 2)?;
    st.serialize_field("from", &(v[0] as i64))?;
    st.serialize_field("n", &v.len())?;
    st.end()
}

/// The percentile curve of a histogram: a point at every quarter of a nine (0, 43.8, 68.4,
/// 82.2, 90, ... percent) below the last nine its count reaches, then the largest value at
/// the percentile of the last sample, 100 (1 - 1/count). `exact` is the smallest and
/// largest value as counted beside the histogram (whose buckets round up); each point is
/// clamped into it, so the curve starts at the exact minimum, ends at the exact maximum and
/// never falls.
pub fn percentile_series(
    name: &str,
    h: &hdrhistogram::Histogram<u64>,
    exact: (u64, u64),
) -> Series {
    let mut s = Series::named(name);
    if h.is_empty() {
        return s;
    }
    let (min, max) = (exact.0, exact.1.max(exact.0));
    let n = h.len() as f64;
    let percent = |q: f64| (q * 100.0 * 1e9).round() / 1e9;
    let steps = 4 * n.log10().floor().max(0.0) as i32;
    for j in 0..steps {
        let q = 1.0 - 10f64.powf(-f64::from(j) / 4.0);
        let v = if j == 0 {
            min
        } else {
            h.value_at_quantile(q).clamp(min, max)
        };
        s.x.push(percent(q));
        s.y.push(v as f64);
    }
    s.x.push(percent(1.0 - 1.0 / n));
    s.y.push(max as f64);
    s
}

/// A forest plot: each row's ratio with its interval, against 1 and the margin around it.
#[derive(Debug, Clone, Serialize)]
pub struct Forest {
    /// `data-chart` name.
    pub name: String,
    /// Caption.
    pub title: String,
    /// The axis's words (`ratio to epoll`).
    pub label: String,
    /// The margin around 1, a fraction.
    pub margin: f64,
    /// One row per model.
    pub rows: Vec<ForestRow>,
}

/// One row of a forest plot.
#[derive(Debug, Clone, Serialize)]
pub struct ForestRow {
    /// Its name.
    pub label: String,
    /// The ratio.
    pub ratio: f64,
    /// Lower end of its interval (None from fewer than two blocks).
    pub lo: Option<f64>,
    /// Upper end.
    pub hi: Option<f64>,
    /// Its verdict's words.
    pub verdict: String,
}

/// Buttons that show one group of blocks at a time.
#[derive(Debug, Clone, Serialize)]
pub struct Switch {
    /// What the buttons choose (`metric`, `point`).
    pub label: String,
    /// The groups, the first shown.
    pub options: Vec<SwitchOption>,
}

/// One group of a switch.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchOption {
    /// Its button's words.
    pub name: String,
    /// What it shows.
    pub blocks: Vec<Block>,
}

/// A block for a switch of `options`: the one option's blocks as they are when there is
/// only one, nothing when there is none.
pub fn switch(label: &str, options: Vec<SwitchOption>) -> Vec<Block> {
    match options.len() {
        0 => Vec::new(),
        1 => options.into_iter().flat_map(|o| o.blocks).collect(),
        _ => vec![Block::Switch(Switch {
            label: label.into(),
            options,
        })],
    }
}

/// `v` rounded to five significant digits, which is what a chart or a table shows; keeps
/// the embedded data small.
pub fn sig(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    format!("{v:.4e}").parse().unwrap_or(v)
}

/// The page: the policy, the styles, the status script, the data and the drawing script,
/// all inline.
pub fn render(page: &Page) -> String {
    let data = serde_json::to_string(page).expect("a page's data serializes");
    // Inside a <script>, `</script` or `<!--` would end or confuse it: every `<` (found
    // only inside JSON strings) is written as the escape `\u003c`, the same text to JSON.
    let data = data.replace('<', "\\u003c");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\" data-errors=\"0\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<script>\n{STATUS_JS}</script>\n<style>\n{CSS}</style>\n</head>\n\
         <body>\n<main id=\"echolab\"></main>\n\
         <script type=\"application/json\" id=\"echolab-data\">{data}</script>\n\
         <script>\n{KIT_JS}</script>\n</body>\n</html>\n",
        title = escape(&page.title),
    )
}

/// Text made safe inside HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Page {
        let mut chart = LineChart::new("c".into(), "C".into(), Axis::log("x"), Axis::linear("y"));
        let mut s = Series::named("m");
        s.push(1.0, 123456.0);
        chart.series.push(s);
        Page {
            page: "run",
            title: "a </script> <b>".into(),
            header: vec![("k".into(), "v".into())],
            links: vec![],
            sections: vec![Section {
                id: "s".into(),
                title: "S".into(),
                text: vec![],
                blocks: vec![Block::Line(chart)],
            }],
        }
    }

    #[test]
    fn the_page_holds_the_policy_and_its_data_as_json() {
        let html = render(&page());
        assert!(html.contains(&format!("content=\"{CSP}\"")));
        let start = html.find("id=\"echolab-data\">").unwrap() + "id=\"echolab-data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let v: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(v["page"], "run");
        assert_eq!(v["title"], "a </script> <b>");
        assert_eq!(v["sections"][0]["blocks"][0]["kind"], "line");
        assert_eq!(v["sections"][0]["blocks"][0]["series"][0]["y"][0], 123460);
        assert!(html.contains("\"x\":[1],\"y\":[123460]"));
        let mut blocks = Series::named("b");
        for b in 1..=5 {
            blocks.push(f64::from(b), 0.5);
        }
        let json = serde_json::to_string(&blocks).unwrap();
        assert!(json.contains("\"x\":{\"from\":1,\"n\":5}"), "{json}");
        assert!(html.contains("<title>a &lt;/script&gt; &lt;b&gt;</title>"));
    }

    #[test]
    fn numbers_keep_five_significant_digits() {
        assert_eq!(sig(0.001234567), 0.0012346);
        assert_eq!(sig(987654.3), 987650.0);
        assert_eq!(sig(0.0), 0.0);
        assert_eq!(Cell::from(f64::NAN), Cell::None);
    }

    #[test]
    fn a_percentile_curve_ends_at_the_last_sample() {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        h.record(7).unwrap();
        let one = percentile_series("one", &h, (7, 7));
        assert_eq!((one.x.clone(), one.y.clone()), (vec![0.0], vec![7.0]));
        for v in 1..=20_000u64 {
            h.record(v).unwrap();
        }
        let s = percentile_series("many", &h, (1, 20_000));
        // 20,001 values: four nines below the last, four points each, then the maximum at
        // the last sample's percentile.
        assert_eq!(s.x.len(), 17);
        assert_eq!(*s.y.last().unwrap(), 20_000.0);
        assert!((s.x[16] - 100.0 * (1.0 - 1.0 / 20_001.0)).abs() < 1e-6);
        assert!(s.y.windows(2).all(|w| w[0] <= w[1]));
        assert!(s.x.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_switch_of_one_option_is_its_blocks() {
        let one = SwitchOption {
            name: "a".into(),
            blocks: vec![Block::Heading { text: "h".into() }],
        };
        assert!(matches!(
            switch("m", vec![one.clone()])[..],
            [Block::Heading { .. }]
        ));
        assert!(matches!(
            switch("m", vec![one.clone(), one])[..],
            [Block::Switch(_)]
        ));
        assert!(switch("m", vec![]).is_empty());
    }
}
