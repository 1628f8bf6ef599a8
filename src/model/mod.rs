//! The BERT sequence classifier: config, burn modules, checkpoint loading and saving.

mod bert;
mod config;
mod family;
mod folder;
mod weights;

pub use bert::{BertClassifier, BertEmbeddings, BertInput, BertLayer, BertModel, BertModelOutput, BertOutput};
pub use config::{Activation, BertConfig, Sizes};
pub use family::{DISTILBERT_NAMES, Family, HeadActivation, Positions, SUPPORTED};
pub use folder::{LoadedModel, save_folder};
pub use weights::{ClassifierMismatch, LoadReport, Part, check_weights, load_classifier, save_classifier};
