//! The layout: the title over two or three panels that share the time axis, each panel with
//! its legend line (which names the unit) above its plot; drawn with plotters into an RGB
//! buffer.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::scale::{format_elapsed, format_value, time_ticks, value_ticks};
use super::{usable, ChartError, ChartInput, HEIGHT, WIDTH};

// Okabe–Ito colours: told apart with every common colour-vision deficiency.
pub(crate) const THROUGHPUT: RGBColor = RGBColor(0x00, 0x72, 0xB2);
pub(crate) const P95: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
pub(crate) const ERRORS: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
pub(crate) const BASELINE: RGBColor = RGBColor(0x6E, 0x6E, 0x6E);
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);
const GRID: RGBColor = RGBColor(0xE2, 0xE2, 0xE2);
const AXIS: RGBColor = RGBColor(0x9A, 0x9A, 0x9A);

/// Text sizes in pixels of the 1200 px image (÷ 3.3 when Slack shows it 360 px wide).
const TITLE_PX: f64 = 38.0;
const TEXT_PX: f64 = 28.0;
const LINE_PX: u32 = 3;

const PAD: i32 = 24;
const HEADER_H: u32 = 56;
const LEGEND_H: u32 = 34;
/// Left of every panel: its tick labels. One width for all panels, so
/// their plots line up on the shared time axis.
const Y_LABELS_W: u32 = 96;
const X_LABELS_H: u32 = 80;
const RIGHT_MARGIN: u32 = 60;
const PANEL_GAP: u32 = 14;
/// Intervals aimed for: 4 on a value axis, 8 on the time axis (labels up to `1:30:00`).
const Y_TICKS: usize = 4;
const X_TICKS: usize = 8;

type Area<'b> = DrawingArea<BitMapBackend<'b>, Shift>;

/// What one panel shows.
struct Panel<'a> {
    legend: Vec<(Swatch, String)>,
    colour: RGBColor,
    values: &'a [f64],
    bars: bool,
    baseline: Option<f64>,
}

/// The shared time axis.
struct TimeAxis {
    duration_s: f64,
    interval_s: f64,
    ticks: Vec<f64>,
    hours: bool,
}

pub(super) fn draw(
    rgb: &mut [u8],
    family: &str,
    input: &ChartInput,
    duration_s: f64,
) -> Result<(), ChartError> {
    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(failed)?;
    let (header, body) = root.split_vertically(HEADER_H);
    let title_style = TextStyle::from((family, TITLE_PX).into_font()).color(&INK);
    let title = fit(
        &header,
        &clean(input.title),
        &title_style,
        WIDTH as i32 - 2 * PAD,
    )?;
    header
        .draw(&Text::new(title, (PAD, 14), title_style))
        .map_err(failed)?;

    let baseline = input.baseline_p95_ms.filter(|b| usable(*b));
    let mut p95_legend = vec![(Swatch::Line(P95), "P95 latency, ms".to_owned())];
    if let Some(b) = baseline {
        let step = if b < 10.0 { 0.1 } else { 1.0 };
        let mut label = format!("Baseline P95 {} ms", format_value(b, step, 0.0));
        if let Some(run) = input.baseline_label.map(clean).filter(|l| !l.is_empty()) {
            label.push_str(" · ");
            label.push_str(&run);
        }
        p95_legend.push((Swatch::Dashed(BASELINE), label));
    }
    let mut panels = vec![
        Panel {
            legend: vec![(Swatch::Line(THROUGHPUT), "Throughput, req/s".to_owned())],
            colour: THROUGHPUT,
            values: input.throughput,
            bars: false,
            baseline: None,
        },
        Panel {
            legend: p95_legend,
            colour: P95,
            values: input.p95_ms,
            bars: false,
            baseline,
        },
    ];
    if input.errors.iter().any(|e| usable(*e) && *e > 0.0) {
        panels.push(Panel {
            legend: vec![(
                Swatch::Bar(ERRORS),
                format!("Errors per {} s", format_seconds(input.interval_s)),
            )],
            colour: ERRORS,
            values: input.errors,
            bars: true,
            baseline: None,
        });
    }
    let axis = TimeAxis {
        duration_s,
        interval_s: input.interval_s,
        ticks: time_ticks(duration_s, X_TICKS),
        hours: duration_s >= 3_600.0,
    };

    // Plot heights: the errors strip gets a fifth; every panel has its legend line above
    // its plot, and the bottom one the time labels below.
    let fixed = X_LABELS_H + panels.len() as u32 * (LEGEND_H + PANEL_GAP);
    let plots_h = HEIGHT.saturating_sub(HEADER_H + fixed) as f64;
    let shares: &[f64] = if panels.len() == 3 {
        &[0.4, 0.4, 0.2]
    } else {
        &[0.5, 0.5]
    };
    let mut breaks = Vec::new();
    let mut y = 0.0;
    for share in &shares[..shares.len() - 1] {
        y += plots_h * share + f64::from(LEGEND_H + PANEL_GAP);
        breaks.push(y.round() as u32);
    }
    let areas = body.split_by_breakpoints(Vec::<u32>::new(), breaks);
    let last = panels.len() - 1;
    for (i, (panel, area)) in panels.iter().zip(&areas).enumerate() {
        draw_panel(area, family, panel, &axis, i == last)?;
    }
    root.present().map_err(failed)
}

/// A panel's legend: its swatches and labels in one line from the left edge, each label
/// cut to the room left (user text in the baseline's label can be long).
fn legend(area: &Area, family: &str, items: &[(Swatch, String)]) -> Result<(), ChartError> {
    let text = TextStyle::from((family, TEXT_PX).into_font()).color(&INK);
    let y = LEGEND_H as i32 / 2;
    let mut x = PAD;
    for (swatch, label) in items {
        let room = WIDTH as i32 - PAD - x - SWATCH_W - 10;
        if room < 60 {
            break;
        }
        swatch.draw(area, (x, y))?;
        x += SWATCH_W + 10;
        let label = fit(area, label, &text, room)?;
        let (w, _) = area.estimate_text_size(&label, &text).map_err(failed)?;
        area.draw(&Text::new(
            label,
            (x, y),
            text.pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(failed)?;
        x += w as i32 + 36;
    }
    Ok(())
}

/// `10`, `2.5`, `0.001`: seconds as people write them.
fn format_seconds(s: f64) -> String {
    let text = format!("{s:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

const SWATCH_W: i32 = 40;

/// A legend entry's sample of its series.
enum Swatch {
    Line(RGBColor),
    Dashed(RGBColor),
    Bar(RGBColor),
}

impl Swatch {
    fn draw(&self, area: &Area, (x, y): (i32, i32)) -> Result<(), ChartError> {
        let line = |from: i32, to: i32, c: &RGBColor| {
            area.draw(&PathElement::new(
                vec![(from, y), (to, y)],
                c.stroke_width(LINE_PX + 1),
            ))
            .map_err(failed)
        };
        match self {
            Swatch::Line(c) => line(x, x + SWATCH_W, c),
            Swatch::Dashed(c) => {
                line(x, x + 14, c)?;
                line(x + 23, x + SWATCH_W, c)
            }
            Swatch::Bar(c) => area
                .draw(&Rectangle::new(
                    [(x + 8, y - 11), (x + SWATCH_W - 8, y + 11)],
                    c.filled(),
                ))
                .map_err(failed),
        }
    }
}

fn draw_panel(
    area: &Area,
    family: &str,
    panel: &Panel,
    axis: &TimeAxis,
    bottom: bool,
) -> Result<(), ChartError> {
    let max = panel
        .values
        .iter()
        .copied()
        .filter(|v| usable(*v))
        .chain(panel.baseline)
        .fold(0.0, f64::max);
    // The errors strip is short: 0 and two more ticks at most, or its labels would touch.
    let ticks = value_ticks(max, if panel.bars { 2 } else { Y_TICKS });
    // Room between panels, so one panel's top label does not touch the 0 above it.
    let (_, area) = area.split_vertically(PANEL_GAP);
    let (legend_area, area) = area.split_vertically(LEGEND_H);
    legend(&legend_area, family, &panel.legend)?;
    let mut chart = ChartBuilder::on(&area)
        .margin_top(TEXT_PX as u32 / 2)
        .margin_right(RIGHT_MARGIN)
        .x_label_area_size(if bottom { X_LABELS_H } else { 0 })
        .y_label_area_size(Y_LABELS_W)
        .build_cartesian_2d(
            Ticked::new(0.0..axis.duration_s, axis.ticks.clone()),
            Ticked::new(0.0..ticks.top, ticks.values.clone()),
        )
        .map_err(failed)?;

    let labels = TextStyle::from((family, TEXT_PX).into_font()).color(&INK);
    let desc = TextStyle::from((family, TEXT_PX).into_font()).color(&MUTED);
    let (step, top) = (ticks.step, ticks.top);
    let y_label = |v: &f64| format_value(*v, step, top);
    let x_label = |v: &f64| format_elapsed(*v, axis.hours);
    let x_desc = if axis.hours {
        "elapsed (h:mm:ss)"
    } else {
        "elapsed (m:ss)"
    };
    let mut mesh = chart.configure_mesh();
    mesh.bold_line_style(GRID.stroke_width(1))
        .axis_style(AXIS.stroke_width(1))
        .label_style(labels.clone())
        .axis_desc_style(desc)
        .y_label_formatter(&y_label)
        .x_label_formatter(&x_label)
        .set_tick_mark_size(LabelAreaPosition::Bottom, 10);
    if bottom {
        mesh.x_desc(x_desc);
    }
    mesh.draw().map_err(failed)?;

    // Under the series, so the run's own line stays whole where they cross.
    if let Some(b) = panel.baseline {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, b.min(ticks.top)), (axis.duration_s, b.min(ticks.top))],
                16,
                10,
                BASELINE.stroke_width(LINE_PX),
            ))
            .map_err(failed)?;
    }
    let point = |i: usize, v: f64| ((i + 1) as f64 * axis.interval_s, v.min(top));
    if panel.bars {
        chart
            .draw_series(
                panel
                    .values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| usable(**v) && **v > 0.0)
                    .map(|(i, v)| {
                        let (x, y) = point(i, *v);
                        Rectangle::new([(x - axis.interval_s, 0.0), (x, y)], panel.colour.filled())
                    }),
            )
            .map_err(failed)?;
    } else {
        // Noisy long runs read better thinner: more points than half the plot's pixels.
        let width = if panel.values.len() > 500 {
            LINE_PX - 1
        } else {
            LINE_PX
        };
        for run in runs(panel.values) {
            let pts = run.map(|(i, v)| point(i, v));
            if pts.len() == 1 {
                chart
                    .draw_series(pts.map(|p| Circle::new(p, 5, panel.colour.filled())))
                    .map_err(failed)?;
            } else {
                chart
                    .draw_series(LineSeries::new(pts, panel.colour.stroke_width(width)))
                    .map_err(failed)?;
            }
        }
    }
    if !panel.values.iter().any(|v| usable(*v)) {
        chart
            .plotting_area()
            .draw(&Text::new(
                "no data",
                (axis.duration_s / 2.0, top / 2.0),
                labels
                    .color(&MUTED)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(failed)?;
    }
    Ok(())
}

/// A linear f64 axis with exactly our ticks. plotters' own `with_key_points` does the same
/// but leaves f64 axes without the formatter `configure_mesh` requires.
struct Ticked {
    linear: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(range: Range<f64>, ticks: Vec<f64>) -> Self {
        Ticked {
            linear: range.into(),
            ticks,
        }
    }
}

impl Ranged for Ticked {
    // Labels come from our formatters; this only satisfies `configure_mesh`'s bound.
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Grid lines and labels at the ticks only, no light lines in between.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.linear.range()
    }
}

/// The stretches of consecutive usable values, as (index, value): each is one line, and an
/// unusable value breaks the line instead of dragging it to 0.
pub(super) fn runs(values: &[f64]) -> impl Iterator<Item = std::vec::IntoIter<(usize, f64)>> + '_ {
    values
        .split(|v| !usable(*v))
        .scan(0usize, |start, run| {
            let first = *start;
            *start += run.len() + 1;
            Some((first, run))
        })
        .filter(|(_, run)| !run.is_empty())
        .map(|(first, run)| {
            run.iter()
                .enumerate()
                .map(|(k, v)| (first + k, *v))
                .collect::<Vec<_>>()
                .into_iter()
        })
}

/// User text as drawn: control characters (newlines, tabs, NUL) become spaces, runs of
/// whitespace one space; everything else as typed.
pub(super) fn clean(text: &str) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text`, or its longest prefix that fits `width` pixels with "…" after it.
fn fit(area: &Area, text: &str, style: &TextStyle, width: i32) -> Result<String, ChartError> {
    let fits = |s: &str| -> Result<bool, ChartError> {
        let (w, _) = area.estimate_text_size(s, style).map_err(failed)?;
        Ok(w as i32 <= width)
    };
    if fits(text)? {
        return Ok(text.to_owned());
    }
    let ends: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    // Binary search for the most characters that fit with the ellipsis.
    let (mut lo, mut hi) = (0, ends.len().saturating_sub(1));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(&format!("{}…", &text[..ends[mid]]))? {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(format!("{}…", text[..ends[lo]].trim_end()))
}

fn failed<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> ChartError {
    ChartError::Draw(e.to_string())
}
