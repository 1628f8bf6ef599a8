//! `<experiment>/plots/`: the training loss per step, the validation accuracy per epoch and the
//! final accuracy per strategy, each as SVG and PNG, and `data.json` with every plotted number.
//! Written when an experiment ends and by `report --plots`.

pub mod data;
pub mod draw;

use std::path::{Path, PathBuf};

use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::report::results::Results;
use data::PlotData;

use crate::workspace::layout::{MATRIX_JSON, PLOTS, PLOTS_DATA, PLOTS_DIR};
use crate::workspace::results::{publish, write_results};

fn drawn(what: &str, path: &Path, e: Box<dyn std::error::Error>) -> Error {
    Error::Internal(format!("cannot draw the {what} plot into {}: {e}", path.display()))
}

/// Draws the three plots of the experiment in `dir` and writes their numbers; returns the
/// files written. results.md is rewritten to link them.
pub fn write(dir: &Path, results: &Results) -> Result<Vec<PathBuf>> {
    draw::register_font();
    let data = PlotData::from_results(dir, results);
    let out = dir.join(PLOTS_DIR);
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let mut written = Vec::new();
    let json = serde_json::to_string_pretty(&data).expect("plot data serializes");
    let path = out.join(PLOTS_DATA);
    write_atomic(&path, |p| std::fs::write(p, &json).map_err(|e| Error::io(p, e)))?;
    written.push(path);
    for (stem, what) in PLOTS {
        let svg = out.join(format!("{stem}.svg"));
        write_atomic(&svg, |p| {
            let root = SVGBackend::new(p, draw::SIZE).into_drawing_area();
            plot(stem, &root, &data).map_err(|e| drawn(what, &svg, e))
        })?;
        let png = out.join(format!("{stem}.png"));
        // The PNG encoder picks the format from the extension: the temporary name keeps it.
        let tmp = out.join(crate::atomic::temporary_name(&format!("{stem}.png")));
        std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(|e| Error::io(&png, e))?;
        let root = BitMapBackend::new(&tmp, draw::SIZE).into_drawing_area();
        let drawn_png = plot(stem, &root, &data).map_err(|e| drawn(what, &png, e));
        drop(root);
        match drawn_png.and_then(|()| std::fs::rename(&tmp, &png).map_err(|e| Error::io(&png, e))) {
            Ok(()) => written.extend([svg, png]),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
    }
    // results.md links the plots now: merged and rewritten under the merge lock, or for a folder
    // of a version before cells (no matrix.json), written from these results.
    if dir.join(MATRIX_JSON).is_file() {
        publish(dir)?;
    } else {
        write_results(dir, results)?;
    }
    Ok(written)
}

fn plot<DB: plotters::prelude::DrawingBackend>(
    stem: &str,
    root: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    data: &PlotData,
) -> std::result::Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    match stem {
        "loss" => draw::loss(root, data),
        "accuracy" => draw::accuracy(root, data),
        _ => draw::final_accuracy(root, data),
    }
}
