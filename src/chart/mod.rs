//! The report chart: a load test's throughput and P95 latency over its elapsed time (and its
//! errors, when there were any), with the baseline run's P95 as a dashed reference line,
//! rendered in process to a PNG for the run's Slack thread.
//!
//! Made to be read on a phone: Slack's mobile thread shows the 1200×675 image about 360 px
//! wide, so text is 22 px and more, lines 3 px, and the series sit in stacked panels that
//! share the time axis (one scale each, no second y axis to match colours against).
//! Colours are from the Okabe–Ito palette, which stays distinct with colour blindness.
//!
//! A leaf: it knows nothing of the product. [`scale`] holds the tick and label rules,
//! [`draw`] the layout, [`sample`] a made-up run for benchmarks and the example.

mod draw;
pub mod sample;
mod scale;

use std::sync::OnceLock;

/// Width and height of the PNG, in pixels (16:9, Slack's preview shape).
pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 675;

/// The most points a series may hold (the API's limit for `report.series`).
pub const MAX_POINTS: usize = 2_000;

/// What the chart shows. Series are per point, `interval_s` apart; point `i` is the
/// interval that ends `(i + 1) × interval_s` into the run. A value that is not a finite,
/// non-negative number is a gap in its line.
#[derive(Debug, Clone, Copy)]
pub struct ChartInput<'a> {
    /// Drawn as typed (control characters dropped), cut with "…" to fit the width.
    pub title: &'a str,
    /// Seconds between points (> 0).
    pub interval_s: f64,
    /// Requests per second, per point (may be empty).
    pub throughput: &'a [f64],
    /// P95 latency in ms, per point (may be empty).
    pub p95_ms: &'a [f64],
    /// Errors per point (may be empty). Drawn as bars in a third panel when any is above 0.
    pub errors: &'a [f64],
    /// The baseline run's P95: a dashed reference line in the P95 panel.
    pub baseline_p95_ms: Option<f64>,
    /// Names the baseline run in the legend (e.g. "lt-118 of Nov 30").
    pub baseline_label: Option<&'a str>,
}

/// Why no chart was made. Rendering never panics; every odd input ends here or in a chart.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// Neither throughput nor P95 has a single finite, non-negative value: nothing to show.
    #[error("no data to chart: neither throughput nor P95 has a value")]
    NoData,
    #[error("the interval between points must be a positive number of seconds, not {0}")]
    BadInterval(f64),
    #[error("a series has {0} points; a chart shows at most {MAX_POINTS}")]
    TooManyPoints(usize),
    #[error("the embedded font could not be loaded")]
    Font,
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    #[error("encoding the PNG failed")]
    Encode(#[from] png::EncodingError),
}

/// Renders the chart as PNG bytes ([`WIDTH`] × [`HEIGHT`], 8-bit RGB).
///
/// Errors: [`ChartError::NoData`] when throughput and P95 are both empty or hold no usable
/// value (the caller then has nothing worth uploading); [`ChartError::BadInterval`],
/// [`ChartError::TooManyPoints`] for input the API would have refused. One series without
/// data is drawn as a panel saying "no data".
pub fn render_png(input: &ChartInput) -> Result<Vec<u8>, ChartError> {
    let points = input
        .throughput
        .len()
        .max(input.p95_ms.len())
        .max(input.errors.len());
    if points > MAX_POINTS {
        return Err(ChartError::TooManyPoints(points));
    }
    let duration_s = input.interval_s * points.max(1) as f64;
    if !(input.interval_s > 0.0 && duration_s.is_finite()) {
        return Err(ChartError::BadInterval(input.interval_s));
    }
    if !input
        .throughput
        .iter()
        .chain(input.p95_ms)
        .any(|v| usable(*v))
    {
        return Err(ChartError::NoData);
    }
    let family = font_family()?;
    let mut rgb = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    draw::draw(&mut rgb, family, input, duration_s)?;
    encode(&rgb)
}

/// A value the lines show: finite and not negative (throughput, latency and error counts
/// cannot be below 0; such a value is a gap, like NaN).
pub(crate) fn usable(v: f64) -> bool {
    v.is_finite() && v >= 0.0
}

/// The embedded DejaVu Sans (Bitstream Vera licence, see assets/fonts/), so the binary needs
/// no system fonts. Registered with plotters once per process, under a name no system font has.
fn font_family() -> Result<&'static str, ChartError> {
    const FAMILY: &str = "xtc-chart-sans";
    static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, FONT).is_ok()
    });
    ok.then_some(FAMILY).ok_or(ChartError::Font)
}

/// PNG of the RGB buffer. `Fast` deflate: a chart is mostly flat colour, so it still
/// compresses to tens of kilobytes, at a fraction of the default level's time.
fn encode(rgb: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests;
