//! Axis scales: nice value ticks (1, 2, 5 × 10ⁿ from 0), elapsed-time ticks at clock steps,
//! and the labels people read (`1,500`, `20k`, `0.5`; `4:30`, `1:02:00`).

/// Values above this are clipped: beyond it the chart would only show float noise, and the
/// tick arithmetic stays far from overflow.
const MAX_VALUE: f64 = 1e15;

/// Clock steps for the time axis, in seconds: what a person counts in.
const TIME_STEPS: [f64; 18] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1_800.0, 3_600.0, 7_200.0,
    10_800.0, 21_600.0, 43_200.0, 86_400.0,
];

/// The ticks of a value axis from 0: `0, step, …, top`, where `top` is the first multiple
/// of `step` not below the data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ticks {
    pub step: f64,
    pub top: f64,
    pub values: Vec<f64>,
}

/// Ticks for values in `0..=max` with at most about `target` intervals. A `max` that is not
/// a positive finite number (all zero, no data) gets the axis `0..1`.
pub(crate) fn value_ticks(max: f64, target: usize) -> Ticks {
    let max = if max.is_finite() && max > 0.0 {
        max.min(MAX_VALUE)
    } else {
        1.0
    };
    let step = nice_step(max / target.max(1) as f64);
    // The small tolerance keeps 1000 / 200 = 5.000000001 from adding an empty interval.
    let intervals = (max / step - 1e-9).ceil().max(1.0);
    let top = intervals * step;
    let values = (0..=intervals as usize).map(|i| i as f64 * step).collect();
    Ticks { step, top, values }
}

/// The smallest of 1, 2, 5 × 10ⁿ that is at least `raw` (positive, finite).
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let residual = raw / magnitude;
    let nice = if residual <= 1.0 {
        1.0
    } else if residual <= 2.0 {
        2.0
    } else if residual <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A value tick's label: thousands grouped (`1,500`), `k` or `M` when the axis's largest
/// label (`largest`) reaches 10,000 or a million (`20k`, `1.5M`), and as many decimals as
/// the step needs (`0.5`, `0.25`). Zero is always `0`.
pub(crate) fn format_value(value: f64, step: f64, largest: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    let (scale, suffix) = if largest >= 1e6 {
        (1e6, "M")
    } else if largest >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let (value, step) = (value / scale, step / scale);
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10() - 1e-9).ceil().clamp(0.0, 12.0) as usize
    };
    let text = format!("{value:.decimals$}");
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let mut out = group_thousands(int);
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    out.push_str(suffix);
    out
}

/// `1234567` → `1,234,567` (a leading `-` kept in front).
fn group_thousands(int: &str) -> String {
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut out = String::with_capacity(int.len() + int.len() / 3);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Ticks of the elapsed-time axis `0..=total_s`: multiples of a clock step (10 s, 1 min,
/// 15 min, 1 h, …), at most about `target` intervals.
pub(crate) fn time_ticks(total_s: f64, target: usize) -> Vec<f64> {
    let target = target.max(1) as f64;
    let total = if total_s.is_finite() && total_s > 0.0 {
        total_s
    } else {
        1.0
    };
    let step = TIME_STEPS
        .iter()
        .copied()
        .find(|s| total / s <= target)
        // Runs of many days: whole days in 1, 2, 5 × 10ⁿ.
        .unwrap_or_else(|| 86_400.0 * nice_step(total / 86_400.0 / target));
    let count = (total / step + 1e-9).floor() as usize;
    (0..=count).map(|i| i as f64 * step).collect()
}

/// Elapsed time as the clock reads it: `m:ss`, or `h:mm:ss` when the axis reaches an hour
/// (`with_hours`), so that every label of one axis has the same form.
pub(crate) fn format_elapsed(secs: f64, with_hours: bool) -> String {
    // `as` saturates: a negative or NaN time reads 0:00 rather than failing.
    let total = secs.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if with_hours {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{}:{s:02}", total / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_ticks_start_at_zero_and_step_by_one_two_or_five_times_a_power_of_ten() {
        for max in [
            0.3, 1.0, 7.0, 42.0, 723.0, 999.0, 1_000.0, 1_234.5, 98_765.0, 3.2e9,
        ] {
            let t = value_ticks(max, 4);
            assert_eq!(t.values[0], 0.0);
            assert!(t.top >= max, "{max}: top {}", t.top);
            assert!(
                t.top < max + t.step * 1.000_001,
                "{max}: top {} too high",
                t.top
            );
            assert!(t.values.len() <= 6, "{max}: {:?}", t.values);
            let mantissa = t.step / 10f64.powf(t.step.log10().floor());
            assert!(
                [1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9),
                "{max}: step {}",
                t.step
            );
        }
    }

    #[test]
    fn value_ticks_of_known_maxima() {
        assert_eq!(
            value_ticks(723.0, 4).values,
            vec![0.0, 200.0, 400.0, 600.0, 800.0]
        );
        assert_eq!(value_ticks(1_000.0, 4).values, vec![0.0, 500.0, 1_000.0]);
        assert_eq!(value_ticks(1.0, 4).values, vec![0.0, 0.5, 1.0]);
    }

    #[test]
    fn value_ticks_without_positive_data_are_zero_to_one() {
        for max in [0.0, -5.0, f64::NAN, f64::NEG_INFINITY] {
            let t = value_ticks(max, 4);
            assert_eq!(t.top, 1.0, "{max}");
            assert_eq!(t.values.first(), Some(&0.0));
        }
    }

    #[test]
    fn value_ticks_of_huge_values_stay_finite_and_few() {
        for max in [f64::MAX, f64::INFINITY, 1e300] {
            let t = value_ticks(max, 4);
            assert!(t.top.is_finite() && t.values.len() <= 6, "{max}: {t:?}");
        }
    }

    #[test]
    fn values_read_with_grouping_suffixes_and_the_decimals_the_step_needs() {
        assert_eq!(format_value(0.0, 200.0, 800.0), "0");
        assert_eq!(format_value(800.0, 200.0, 800.0), "800");
        assert_eq!(format_value(1_500.0, 500.0, 2_500.0), "1,500");
        assert_eq!(format_value(5_000.0, 5_000.0, 20_000.0), "5k");
        assert_eq!(format_value(20_000.0, 5_000.0, 20_000.0), "20k");
        assert_eq!(format_value(1_500.0, 500.0, 10_000.0), "1.5k");
        assert_eq!(format_value(1_500_000.0, 500_000.0, 2e6), "1.5M");
        assert_eq!(format_value(1e6, 500_000.0, 2e6), "1.0M");
        assert_eq!(format_value(0.5, 0.5, 1.0), "0.5");
        assert_eq!(format_value(0.25, 0.05, 0.3), "0.25");
        assert_eq!(format_value(1_234_567.0, 1.0, 0.0), "1,234,567");
        assert_eq!(format_value(-1_234.0, 1.0, 0.0), "-1,234");
    }

    #[test]
    fn elapsed_time_reads_as_a_clock() {
        assert_eq!(format_elapsed(0.0, false), "0:00");
        assert_eq!(format_elapsed(9.6, false), "0:10");
        assert_eq!(format_elapsed(270.0, false), "4:30");
        assert_eq!(format_elapsed(3_599.0, false), "59:59");
        assert_eq!(format_elapsed(3_720.0, true), "1:02:00");
        assert_eq!(format_elapsed(0.0, true), "0:00:00");
        assert_eq!(format_elapsed(90_000.0, true), "25:00:00");
        assert_eq!(format_elapsed(f64::NAN, false), "0:00");
        assert_eq!(format_elapsed(-3.0, false), "0:00");
    }

    #[test]
    fn time_ticks_fall_on_clock_steps() {
        assert_eq!(
            time_ticks(600.0, 8),
            vec![0.0, 120.0, 240.0, 360.0, 480.0, 600.0]
        );
        assert_eq!(time_ticks(45.0, 8), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        let hour_and_a_half = time_ticks(5_400.0, 8);
        assert_eq!(hour_and_a_half[1], 900.0);
        assert_eq!(hour_and_a_half.last(), Some(&5_400.0));
    }

    #[test]
    fn time_ticks_stay_few_for_any_duration() {
        for total in [0.0, 0.4, 1.0, 59.0, 86_400.0 * 30.0, 1e12, f64::NAN] {
            let t = time_ticks(total, 8);
            assert!(!t.is_empty() && t.len() <= 9, "{total}: {t:?}");
            assert_eq!(t[0], 0.0);
        }
    }
}
