//! A small SVG writer for the report's charts: text escaping, a linear scale with "nice" ticks,
//! and an [`Svg`] canvas that accumulates elements as text.
//!
//! No chart crate: the report needs four kinds of chart (horizontal bars, a pyramid, points with
//! whiskers over bands, reference ticks), all drawn from rectangles, lines, circles and text.
//! Every mark that carries a number gets a `<title>` child, which browsers show as a tooltip
//! and screen readers read out.

use std::fmt::Write as _;

/// Escapes text for XML/HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A number with at most `digits` decimals and no trailing zeros (`12.5`, `3`, `0.25`).
pub fn num(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let s = format!("{x:.digits$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s };
    if s == "-0" { "0".into() } else { s }
}

/// A linear map from a data range to a pixel range.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub p0: f64,
    pub p1: f64,
}

impl Scale {
    pub fn new(d0: f64, d1: f64, p0: f64, p1: f64) -> Scale {
        let d1 = if d1 > d0 { d1 } else { d0 + 1.0 };
        Scale { d0, d1, p0, p1 }
    }

    pub fn at(&self, x: f64) -> f64 {
        let x = x.clamp(self.d0, self.d1);
        self.p0 + (x - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0)
    }
}

/// A "nice" upper bound and step for an axis from 0 to at least `max` with about `n` ticks.
pub fn nice_axis(max: f64, n: usize) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let raw = max / n.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    ((max / step).ceil() * step, step)
}

/// The tick positions 0, step, 2·step, … up to `max`.
pub fn ticks(max: f64, step: f64) -> Vec<f64> {
    let n = (max / step).round() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

/// How a text is set: size, colour, weight and which end of it sits at its position.
#[derive(Debug, Clone, Copy)]
pub struct Font {
    size: f64,
    fill: &'static str,
    bold: bool,
    anchor: &'static str,
}

impl Font {
    /// Left-aligned regular text.
    pub fn new(size: f64, fill: &'static str) -> Font {
        Font { size, fill, bold: false, anchor: "start" }
    }

    pub fn bold(self) -> Font {
        Font { bold: true, ..self }
    }

    /// Centred on its position.
    pub fn middle(self) -> Font {
        Font { anchor: "middle", ..self }
    }

    /// Ending at its position.
    pub fn end(self) -> Font {
        Font { anchor: "end", ..self }
    }

    /// `start`, `middle` or `end`.
    pub fn anchor(self, anchor: &'static str) -> Font {
        Font { anchor, ..self }
    }
}

/// An SVG document being written.
#[derive(Debug)]
pub struct Svg {
    width: f64,
    height: f64,
    body: String,
}

pub const INK: &str = "#1a1a1a";
pub const MUTED: &str = "#595959";
pub const GRID: &str = "#d0d0d0";

impl Svg {
    pub fn new(width: f64, height: f64) -> Svg {
        Svg { width, height, body: String::new() }
    }

    /// A rectangle; `tip` becomes its tooltip.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, tip: Option<&str>) {
        let _ = write!(
            self.body,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}""#,
            x,
            y,
            w.max(0.0),
            h.max(0.0)
        );
        self.close(tip);
    }

    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str, width: f64, tip: Option<&str>) {
        let _ = write!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" stroke-width="{width}""#
        );
        self.close(tip);
    }

    /// A circle, filled or (with `fill = None`) drawn as a ring.
    pub fn circle(&mut self, cx: f64, cy: f64, r: f64, fill: Option<&str>, stroke: &str, tip: Option<&str>) {
        let _ = write!(
            self.body,
            r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{r}" fill="{}" stroke="{stroke}" stroke-width="2""#,
            fill.unwrap_or("#ffffff")
        );
        self.close(tip);
    }

    /// A diamond marker (the reference value of a bar).
    pub fn diamond(&mut self, cx: f64, cy: f64, r: f64, fill: &str, tip: Option<&str>) {
        let _ = write!(
            self.body,
            r##"<path d="M{:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="{fill}" stroke="#ffffff" stroke-width="1""##,
            cx,
            cy - r,
            cx + r,
            cy,
            cx,
            cy + r,
            cx - r,
            cy
        );
        self.close(tip);
    }

    /// Text.
    pub fn text(&mut self, x: f64, y: f64, s: &str, font: Font) {
        let weight = if font.bold { r#" font-weight="bold""# } else { "" };
        let _ = write!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{}" font-size="{}" fill="{}"{weight}>{}</text>"#,
            font.anchor,
            font.size,
            font.fill,
            escape(s)
        );
    }

    /// A horizontal axis at `y` with gridlines up to `top`, ticks labelled with `unit`.
    pub fn x_axis(&mut self, scale: &Scale, step: f64, y: f64, top: f64, unit: &str, label: &str) {
        let (max, digits) = (scale.d1, if step < 1.0 { 1 } else { 0 });
        for t in ticks(max, step) {
            let x = scale.at(t);
            self.line((x, top), (x, y), GRID, 1.0, None);
            self.text(x, y + 14.0, &format!("{}{unit}", num(t, digits)), Font::new(11.0, MUTED).middle());
        }
        self.line((scale.p0, y), (scale.p1, y), MUTED, 1.0, None);
        self.text((scale.p0 + scale.p1) / 2.0, y + 32.0, label, Font::new(12.0, INK).middle());
    }

    fn close(&mut self, tip: Option<&str>) {
        match tip {
            Some(t) => {
                let tag = self.last_tag().to_owned();
                let _ = write!(self.body, "><title>{}</title></{tag}>", escape(t));
            }
            None => self.body.push_str("/>"),
        }
    }

    /// The name of the element being closed (the last `<name` opened).
    fn last_tag(&self) -> &str {
        let start = self.body.rfind('<').map_or(0, |i| i + 1);
        let rest = &self.body[start..];
        let end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        &rest[..end]
    }

    /// The finished `<svg>` element, with an accessible title and description.
    pub fn finish(self, id: &str, title: &str, description: &str) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" id="{id}" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" height="{h:.0}" role="img" aria-labelledby="{id}-t {id}-d" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>{}</svg>"#,
            escape(title),
            escape(description),
            self.body,
            w = self.width,
            h = self.height,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axes() {
        assert_eq!(nice_axis(13.2, 5), (15.0, 5.0));
        assert_eq!(nice_axis(11.0, 5), (12.5, 2.5));
        assert_eq!(nice_axis(0.0, 5), (1.0, 0.2));
        assert_eq!(nice_axis(100.0, 5), (100.0, 20.0));
        assert_eq!(ticks(15.0, 2.5).len(), 7);
    }

    #[test]
    fn tooltips_close_the_right_element() {
        let mut s = Svg::new(10.0, 10.0);
        s.rect(0.0, 0.0, 1.0, 1.0, "#000", Some("a < b"));
        s.circle(1.0, 1.0, 2.0, None, "#000", None);
        let out = s.finish("x", "T", "D");
        assert!(out.contains("<title>a &lt; b</title></rect>"), "{out}");
        assert!(
            out.contains("<circle cx=\"1.0\" cy=\"1.0\" r=\"2\" fill=\"#ffffff\" stroke=\"#000\" stroke-width=\"2\"/>")
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(num(12.50, 1), "12.5");
        assert_eq!(num(3.0, 1), "3");
        assert_eq!(num(-0.01, 1), "0");
    }
}
