//! A made-up but plausible run (ramp-up, plateau, a latency spike with errors, ramp-down),
//! the same every time: what the benchmarks render and the example picture shows.

use super::ChartInput;

/// The three series of a sample run, `points` long each.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRun {
    pub throughput: Vec<f64>,
    pub p95_ms: Vec<f64>,
    pub errors: Vec<f64>,
}

/// A run of `points` points: 10 % ramp-up to about 1,150 req/s, a plateau where P95 creeps
/// from about 420 to 560 ms, a spike past 1 s with errors at 70 %, 5 % ramp-down.
pub fn sample_run(points: usize) -> SampleRun {
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let n = points.max(1) as f64;
    let mut run = SampleRun {
        throughput: Vec::with_capacity(points),
        p95_ms: Vec::with_capacity(points),
        errors: Vec::with_capacity(points),
    };
    for i in 0..points {
        let f = (i as f64 + 0.5) / n;
        let load = if f < 0.1 {
            f / 0.1
        } else if f > 0.95 {
            (1.0 - f) / 0.05
        } else {
            1.0
        };
        let spike = (-((f - 0.7) / 0.012).powi(2)).exp();
        run.throughput
            .push((1_150.0 * load * (1.0 - 0.35 * spike) + 25.0 * noise.next()).max(0.0));
        run.p95_ms
            .push(180.0 + load * (240.0 + 140.0 * f) + 520.0 * spike + 30.0 * noise.next().abs());
        let e = 40.0 * spike + if noise.next() > 0.97 { 3.0 } else { 0.0 };
        run.errors.push(e.round());
    }
    run
}

impl SampleRun {
    /// Its chart: 10 s between points, compared with a baseline of 480 ms.
    pub fn input(&self) -> ChartInput<'_> {
        ChartInput {
            title: "Checkout peak 2000 users",
            interval_s: 10.0,
            throughput: &self.throughput,
            p95_ms: &self.p95_ms,
            errors: &self.errors,
            baseline_p95_ms: Some(480.0),
            baseline_label: Some("lt-118 of Nov 30"),
        }
    }
}

/// A tiny xorshift generator: enough wobble to look measured, identical on every call.
struct Noise(u64);

impl Noise {
    /// A number in -1..1.
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}
