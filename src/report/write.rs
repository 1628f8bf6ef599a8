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
        let md = markdown(self);
        write_atomic(&dir.join(RESULTS_MD), |p| std::fs::write(p, &md).map_err(|e| Error::io(p, e)))?;
        Ok(())
    }
}
