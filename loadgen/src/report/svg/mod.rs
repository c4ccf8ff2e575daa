//! The summary's SVG pictures, drawn by hand: [`chart`] a line chart of figures against
//! connections or sizes (with error bars), [`forest`] a forest plot of a point's paired
//! ratios to the reference. Both escape their text with [`esc`]; they import no section.

use std::fmt::Write as _;

pub mod chart;
pub mod forest;

/// Text made safe for SVG (XML): `&`, `<` and `>` escaped.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Opens an SVG document of `w` by `h` on white, with `title` centred on `x` at height `y`
/// in `size` points.
pub fn open(s: &mut String, (w, h): (f64, f64), title: &str, (x, y): (f64, f64), size: u32) {
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{x}" y="{y}" font-size="{size}" text-anchor="middle">{}</text>"#,
        esc(title)
    );
}
