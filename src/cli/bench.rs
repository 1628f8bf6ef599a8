//! `bench`: the time of one distillation step on random weights, printed for people or as JSON.

use super::{BenchArgs, print_out};
use crate::backend::run_on;
use crate::bench::BenchShape;
use crate::error::Result;

pub fn run(a: BenchArgs) -> Result<i32> {
    let BenchArgs { backend, hidden, layers, batch, seq, steps, json, precision } = a;
    let report = run_on(backend.backend, BenchShape { hidden, layers, batch, seq, steps, precision })??;
    if json {
        print_out(&format!("{}\n", serde_json::to_string(&report).expect("serializes")));
    } else {
        print_out(&report.human());
    }
    Ok(0)
}
