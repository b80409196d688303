//! Unit tests of the report chart.

use plotters::style::RGBColor;

use super::draw::{BASELINE, ERRORS, P95, THROUGHPUT};
use super::sample::sample_run;
use super::*;

/// The decoded picture: width, height and RGB rows.
struct Picture {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Picture {
    fn decode(bytes: &[u8]) -> Picture {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("a PNG header");
        let mut rgb = vec![0; reader.output_buffer_size().expect("a sane size")];
        let info = reader.next_frame(&mut rgb).expect("the image data");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        rgb.truncate(info.buffer_size());
        Picture {
            width: info.width as usize,
            height: info.height as usize,
            rgb,
        }
    }

    fn pixel(&self, x: usize, y: usize) -> RGBColor {
        let i = (y * self.width + x) * 3;
        RGBColor(self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    fn count(&self, colour: RGBColor) -> usize {
        self.rgb
            .chunks_exact(3)
            .filter(|p| *p == [colour.0, colour.1, colour.2])
            .count()
    }

    /// Rows where more than `min` pixels have `colour`: horizontal lines of it.
    fn rows_with(&self, colour: RGBColor, min: usize) -> Vec<usize> {
        (0..self.height)
            .filter(|y| {
                (0..self.width)
                    .filter(|x| self.pixel(*x, *y) == colour)
                    .count()
                    > min
            })
            .collect()
    }
}

fn input(run: &sample::SampleRun) -> ChartInput<'_> {
    run.input()
}

fn render(input: &ChartInput) -> Picture {
    Picture::decode(&render_png(input).expect("a chart"))
}

#[test]
fn the_chart_is_a_png_of_the_declared_size() {
    let run = sample_run(360);
    let bytes = render_png(&input(&run)).expect("a chart");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let picture = Picture::decode(&bytes);
    assert_eq!((picture.width, picture.height), (1200, 675));
    // Flat colour compresses well: far below Slack's limits, cheap to upload.
    assert!(bytes.len() < 300_000, "{} bytes", bytes.len());
}

#[test]
fn the_chart_shows_throughput_p95_errors_and_the_baseline_in_their_colours() {
    let run = sample_run(360);
    let picture = render(&input(&run));
    // More than the legend swatches (about 160 pixels each): the lines themselves.
    assert!(
        picture.count(THROUGHPUT) > 2_000,
        "{}",
        picture.count(THROUGHPUT)
    );
    assert!(picture.count(P95) > 2_000, "{}", picture.count(P95));
    assert!(picture.count(ERRORS) > 300, "{}", picture.count(ERRORS));
    assert!(!picture.rows_with(BASELINE, 400).is_empty());
    // Mostly white background: a chart, not a blot.
    let white = picture.count(RGBColor(255, 255, 255));
    assert!(white > picture.width * picture.height / 2, "{white}");
}

#[test]
fn the_baseline_is_a_line_at_its_value_in_the_p95_panel() {
    let run = sample_run(360);
    let without = render(&ChartInput {
        baseline_p95_ms: None,
        ..input(&run)
    });
    assert!(without.rows_with(BASELINE, 400).is_empty());

    // The line's row moves with its value: a higher baseline is drawn higher up.
    let row = |baseline: f64| {
        let picture = render(&ChartInput {
            baseline_p95_ms: Some(baseline),
            ..input(&run)
        });
        let rows = picture.rows_with(BASELINE, 400);
        assert!((1..=4).contains(&rows.len()), "{baseline}: rows {rows:?}");
        rows[0]
    };
    let (low, high) = (row(300.0), row(700.0));
    assert!(high < low, "700 ms at row {high}, 300 ms at row {low}");
    // Both in the P95 panel: below the throughput panel, above the errors strip.
    for r in [low, high] {
        assert!((330..560).contains(&r), "row {r}");
    }
}

#[test]
fn a_baseline_above_every_point_stays_inside_the_chart() {
    let run = sample_run(100);
    let picture = render(&ChartInput {
        baseline_p95_ms: Some(50_000.0),
        ..input(&run)
    });
    assert!(!picture.rows_with(BASELINE, 400).is_empty());
}

#[test]
fn without_errors_there_is_no_errors_panel() {
    let run = sample_run(200);
    let zeros = vec![0.0; 200];
    let picture = render(&ChartInput {
        errors: &zeros,
        ..input(&run)
    });
    assert_eq!(picture.count(ERRORS), 0);
    assert!(picture.count(P95) > 2_000);
}

#[test]
fn a_single_point_is_drawn_as_a_dot() {
    let picture = render(&ChartInput {
        title: "one point",
        interval_s: 30.0,
        throughput: &[120.0],
        p95_ms: &[250.0],
        errors: &[],
        baseline_p95_ms: None,
        baseline_label: None,
    });
    // A 5 px dot is about 80 pixels; the legend swatch alone is about 160.
    assert!(
        picture.count(THROUGHPUT) > 200,
        "{}",
        picture.count(THROUGHPUT)
    );
    assert!(picture.count(P95) > 200, "{}", picture.count(P95));
}

#[test]
fn nothing_to_draw_is_an_error_not_a_blank_chart() {
    let nan = [f64::NAN, f64::INFINITY, -1.0];
    for (throughput, p95) in [(&[][..], &[][..]), (&nan[..], &nan[..]), (&[], &nan[..])] {
        let result = render_png(&ChartInput {
            title: "t",
            interval_s: 1.0,
            throughput,
            p95_ms: p95,
            errors: &[5.0],
            baseline_p95_ms: Some(100.0),
            baseline_label: None,
        });
        assert!(matches!(result, Err(ChartError::NoData)), "{result:?}");
    }
}

#[test]
fn input_the_api_refuses_is_an_error() {
    let run = sample_run(10);
    for interval_s in [0.0, -10.0, f64::NAN, f64::INFINITY, f64::MAX / 2.0] {
        let result = render_png(&ChartInput {
            interval_s,
            ..input(&run)
        });
        assert!(
            matches!(result, Err(ChartError::BadInterval(_))),
            "{interval_s}: {result:?}"
        );
    }
    let long = vec![1.0; MAX_POINTS + 1];
    let result = render_png(&ChartInput {
        p95_ms: &long,
        ..input(&run)
    });
    assert!(
        matches!(result, Err(ChartError::TooManyPoints(2_001))),
        "{result:?}"
    );
}

#[test]
fn odd_values_give_a_chart_and_never_a_panic() {
    let zeros = [0.0; 50];
    let odd = [
        f64::NAN,
        3.0,
        f64::INFINITY,
        -4.0,
        5.0,
        f64::NAN,
        7.0,
        f64::NEG_INFINITY,
    ];
    let huge = [f64::MAX, 1e300, 0.0, 1e15, 2e15];
    let tiny = [1e-300, 5e-324, 0.0];
    let long_title = "Checkout peak ".repeat(500);
    let hostile = "a\u{202E}b\nc\td\u{0}e 🚀 مرحبا 中文 \u{200B}";
    let cases: Vec<ChartInput> = vec![
        ChartInput {
            throughput: &zeros,
            p95_ms: &zeros,
            errors: &zeros,
            ..base()
        },
        ChartInput {
            throughput: &odd,
            p95_ms: &odd,
            errors: &odd,
            ..base()
        },
        ChartInput {
            throughput: &huge,
            p95_ms: &huge,
            errors: &huge,
            ..base()
        },
        ChartInput {
            throughput: &tiny,
            p95_ms: &tiny,
            errors: &tiny,
            ..base()
        },
        // Lengths that differ: each series as long as it is.
        ChartInput {
            throughput: &zeros,
            p95_ms: &odd,
            errors: &[],
            ..base()
        },
        ChartInput {
            throughput: &[],
            p95_ms: &odd,
            ..base()
        },
        ChartInput {
            title: &long_title,
            baseline_label: Some(&long_title),
            ..base()
        },
        ChartInput {
            title: hostile,
            baseline_label: Some(hostile),
            ..base()
        },
        ChartInput {
            title: "",
            baseline_label: Some(""),
            ..base()
        },
        ChartInput {
            baseline_p95_ms: Some(f64::NAN),
            ..base()
        },
        ChartInput {
            baseline_p95_ms: Some(f64::MAX),
            ..base()
        },
        ChartInput {
            interval_s: 1e-9,
            ..base()
        },
        ChartInput {
            interval_s: 86_400.0 * 3.0,
            ..base()
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let picture = render(case);
        assert_eq!((picture.width, picture.height), (1200, 675), "case {i}");
    }
}

/// A small valid input the odd cases change one thing of.
fn base() -> ChartInput<'static> {
    ChartInput {
        title: "Checkout peak",
        interval_s: 5.0,
        throughput: &[10.0, 20.0, 30.0],
        p95_ms: &[100.0, 150.0, 120.0],
        errors: &[0.0, 1.0, 0.0],
        baseline_p95_ms: Some(130.0),
        baseline_label: Some("lt-118 of Nov 30"),
    }
}

#[test]
fn a_missing_series_is_a_panel_saying_no_data() {
    let with = render(&base());
    let without = render(&ChartInput {
        throughput: &[],
        ..base()
    });
    assert!(with.count(THROUGHPUT) > without.count(THROUGHPUT) + 200);
    assert!(without.count(P95) > 200);
}

#[test]
fn lines_break_at_values_that_are_not_usable() {
    let runs: Vec<Vec<(usize, f64)>> = draw::runs(&[1.0, f64::NAN, 2.0, 3.0, -1.0, 4.0])
        .map(Iterator::collect)
        .collect();
    assert_eq!(
        runs,
        vec![vec![(0, 1.0)], vec![(2, 2.0), (3, 3.0)], vec![(5, 4.0)]]
    );
    assert_eq!(draw::runs(&[]).count(), 0);
    assert_eq!(draw::runs(&[f64::NAN, f64::NAN]).count(), 0);
}

#[test]
fn user_text_loses_control_characters_and_runs_of_space() {
    assert_eq!(
        draw::clean("  Checkout\n\tpeak\u{0} 2000  "),
        "Checkout peak 2000"
    );
    assert_eq!(draw::clean("a\u{202E}b"), "a\u{202E}b");
    assert_eq!(draw::clean("\n\r"), "");
}

#[test]
fn the_sample_run_is_the_same_every_time_and_has_every_series() {
    let (a, b) = (sample_run(2_000), sample_run(2_000));
    assert_eq!(a, b);
    assert_eq!(a.throughput.len(), 2_000);
    assert!(a
        .throughput
        .iter()
        .chain(&a.p95_ms)
        .chain(&a.errors)
        .all(|v| usable(*v)));
    assert!(a.errors.iter().any(|e| *e > 0.0));
}
