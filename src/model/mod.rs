//! The BERT sequence classifier: config, burn modules, checkpoint loading and saving.

pub mod bert;
pub mod config;
pub use crate::hub::files;
pub mod folder;
pub mod weights;

pub use bert::{BertClassifier, BertInput, BertLayer, BertModelOutput, BertOutput};
pub use config::BertConfig;
pub use folder::{LoadedModel, save_folder};
pub use weights::{ClassifierMismatch, LoadReport, Part};
