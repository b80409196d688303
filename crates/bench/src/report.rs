//! The printed table: one row per measure, with its target.

use std::time::Duration;

/// One measure.
#[derive(Clone, Debug)]
pub struct Row {
    pub measure: String,
    pub result: String,
    pub target: String,
}

pub fn row(measure: impl Into<String>, result: impl Into<String>, target: &str) -> Row {
    Row {
        measure: measure.into(),
        result: result.into(),
        target: target.to_owned(),
    }
}

/// What the phases measured, in the order they ran, and what they print besides.
#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    /// Printed after the table (slowest requests, histograms).
    pub appendix: Vec<String>,
}

impl Report {
    pub fn extend(&mut self, rows: Vec<Row>) {
        self.rows.extend(rows);
    }

    pub fn print(&self, total: Duration) {
        for a in &self.appendix {
            println!("{a}");
        }
        let w = self
            .rows
            .iter()
            .map(|r| r.measure.chars().count())
            .max()
            .unwrap_or(10);
        let v = self
            .rows
            .iter()
            .map(|r| r.result.chars().count())
            .max()
            .unwrap_or(10);
        println!();
        println!("| {:<w$} | {:<v$} | target |", "measure", "result");
        println!("|{}|{}|--------|", "-".repeat(w + 2), "-".repeat(v + 2));
        for r in &self.rows {
            println!("| {:<w$} | {:<v$} | {} |", r.measure, r.result, r.target);
        }
        println!();
        println!("total bench time: {:.1} s", total.as_secs_f64());
    }
}
