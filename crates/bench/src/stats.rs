//! Latency samples and how they are summarized.

use std::time::Duration;

#[derive(Default, Clone, Debug)]
pub struct Latencies {
    pub samples: Vec<Duration>,
    pub errors: usize,
}

impl Latencies {
    /// The nearest-rank percentile (`p` in 0..=1); zero without samples.
    pub fn percentile(&self, p: f64) -> Duration {
        let mut v = self.samples.clone();
        v.sort();
        if v.is_empty() {
            return Duration::ZERO;
        }
        let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[idx.min(v.len() - 1)]
    }

    pub fn max(&self) -> Duration {
        self.samples.iter().max().copied().unwrap_or_default()
    }

    pub fn extend(&mut self, other: Latencies) {
        self.samples.extend(other.samples);
        self.errors += other.errors;
    }

    /// "p50 / p99 / max".
    pub fn summary(&self) -> String {
        format!(
            "{} / {} / {}",
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            ms(self.max())
        )
    }
}

/// "a → b (×r)" for two latencies.
pub fn versus(a: Duration, b: Duration) -> String {
    let r = b.as_secs_f64() / a.as_secs_f64().max(1e-9);
    format!("{} → {} (×{r:.2})", ms(a), ms(b))
}

pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms:.2} ms")
    }
}

/// One request of a paced phase.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// When it was sent, from the start of the phase.
    pub offset: Duration,
    pub took: Duration,
    pub ok: bool,
}

/// The `n` slowest requests with their send times, as a table.
pub fn slowest_table(name: &str, samples: &[Sample], n: usize) -> String {
    use std::fmt::Write as _;
    let mut v: Vec<&Sample> = samples.iter().collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.took));
    let mut out = String::new();
    let _ = writeln!(out, "\n{name}: the {} slowest requests", n.min(v.len()));
    let _ = writeln!(out, "| sent at (s from start) | latency | status |");
    let _ = writeln!(out, "|---|---|---|");
    for s in v.into_iter().take(n) {
        let _ = writeln!(
            out,
            "| {:.3} | {} | {} |",
            s.offset.as_secs_f64(),
            ms(s.took),
            if s.ok { "202" } else { "error" }
        );
    }
    out
}

/// A latency histogram in power-of-two buckets and a per-second timeline (requests, p50,
/// p99, max of the requests sent in that second).
pub fn histogram(name: &str, samples: &[Sample]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "\n{name}: latency histogram");
    let mut buckets: Vec<usize> = Vec::new();
    for s in samples {
        let us = s.took.as_micros().max(1);
        let b = (u128::BITS - us.leading_zeros()) as usize; // 2^(b-1) <= us < 2^b
        if buckets.len() <= b {
            buckets.resize(b + 1, 0);
        }
        buckets[b] += 1;
    }
    let total = samples.len().max(1);
    let widest = buckets.iter().copied().max().unwrap_or(1).max(1);
    for (b, count) in buckets.iter().enumerate().filter(|(_, c)| **c > 0) {
        let lo = if b == 0 { 0 } else { 1u64 << (b - 1) };
        let hi = 1u64 << b;
        let _ = writeln!(
            out,
            "{:>9} – {:<9} {:>7} {:>6.2} % {}",
            fmt_us(lo),
            fmt_us(hi),
            count,
            *count as f64 * 100.0 / total as f64,
            "#".repeat((count * 50).div_ceil(widest))
        );
    }
    let _ = writeln!(out, "\n{name}: per second of sending");
    let _ = writeln!(out, "| second | requests | p50 | p99 | max |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    let secs = samples
        .iter()
        .map(|s| s.offset.as_secs())
        .max()
        .unwrap_or(0);
    for sec in 0..=secs {
        let lat = Latencies {
            samples: samples
                .iter()
                .filter(|s| s.offset.as_secs() == sec)
                .map(|s| s.took)
                .collect(),
            errors: 0,
        };
        let _ = writeln!(
            out,
            "| {sec} | {} | {} | {} | {} |",
            lat.samples.len(),
            ms(lat.percentile(0.5)),
            ms(lat.percentile(0.99)),
            ms(lat.max())
        );
    }
    out
}

fn fmt_us(us: u64) -> String {
    if us >= 1000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}
