//! `report [DIR] [--plots]`: the results table of a finished or running experiment, its cells'
//! records merged again (and results.* rewritten when the folder can be written), the plots
//! drawn again with `--plots`.

use super::{ReportArgs, print_err, print_out};
use crate::error::Result;
use crate::experiment::Experiment;
use crate::report::terminal::{final_text, terminal_width};
use crate::workspace::layout::results_md;
use crate::workspace::results::{open_results, publish};

pub fn run(a: ReportArgs) -> Result<i32> {
    let dir = match a.dir {
        Some(d) => d,
        None => Experiment::load(&a.config.config, &a.config.set)?.dir,
    };
    // The cells' records are the truth: merged, and results.* rewritten when the folder can be
    // written; a folder of a version before cells has its results.json only.
    let results = match publish(&dir) {
        Ok(r) => r,
        Err(_) => open_results(&dir)?,
    };
    if a.plots {
        let folder = if dir.is_file() { dir.parent().unwrap_or(&dir).to_path_buf() } else { dir.clone() };
        for path in crate::plots::write(&folder, &results)? {
            print_err(&format!("wrote {}", path.display()));
        }
    }
    print_out(&final_text(&results, &results_md(&dir), terminal_width()));
    Ok(0)
}
