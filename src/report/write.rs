//! Writing an experiment's results files: the record (results.json) and the tables made from it.

use std::path::Path;

use super::results::{RESULTS_CSV, RESULTS_JSON, RESULTS_MD, Results};
use super::table::{csv, markdown};
use crate::atomic::write_atomic;
use crate::error::{Error, Result};

impl Results {
    /// Writes results.json, results.csv and results.md, each atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let json = serde_json::to_string_pretty(self).expect("results serialize");
        write_atomic(&dir.join(RESULTS_JSON), |p| std::fs::write(p, &json).map_err(|e| Error::io(p, e)))?;
        let csv = csv(self);
        write_atomic(&dir.join(RESULTS_CSV), |p| std::fs::write(p, &csv).map_err(|e| Error::io(p, e)))?;
        let mut md = markdown(self);
        md.push_str(&plot_links(dir));
        write_atomic(&dir.join(RESULTS_MD), |p| std::fs::write(p, &md).map_err(|e| Error::io(p, e)))?;
        Ok(())
    }
}

/// The plots folder, in an experiment folder.
pub const PLOTS_DIR: &str = "plots";
/// The plots, by file stem, in the order results.md lists them.
pub const PLOTS: [(&str, &str); 3] = [
    ("loss", "Training loss per step"),
    ("accuracy", "Validation accuracy per epoch"),
    ("final-accuracy", "Final validation accuracy per strategy"),
];

/// A "Plots" section linking the plots that exist in `dir/plots` (none: empty).
fn plot_links(dir: &Path) -> String {
    let mut s = String::new();
    for (stem, title) in PLOTS {
        if dir.join(PLOTS_DIR).join(format!("{stem}.png")).is_file() {
            s.push_str(&format!("- [{title}]({PLOTS_DIR}/{stem}.png) ([SVG]({PLOTS_DIR}/{stem}.svg))\n"));
        }
    }
    if s.is_empty() { s } else { format!("\n## Plots\n\n{s}") }
}
