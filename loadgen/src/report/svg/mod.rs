//! The summary's SVG pictures, drawn by hand: [`chart`] a line chart of figures against
//! connections or sizes (with error bars), [`forest`] a forest plot of a point's paired
//! ratios to the reference. Both escape their text with [`esc`]; they import no section.

pub mod chart;
pub mod forest;

/// Text made safe for SVG (XML): `&`, `<` and `>` escaped.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
