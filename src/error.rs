//! One error type for the whole tool. Every message says what is wrong, where, and how to fix it.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    /// Writing a result or checkpoint failed (disk full, permissions); the old file is intact.
    #[error(
        "{path}: cannot write it ({source}); the previous version is intact. Free disk space or \
         fix permissions, then rerun the same command to resume"
    )]
    Write { path: PathBuf, source: std::io::Error },

    #[error("{path}: {reason}")]
    InvalidModel { path: PathBuf, reason: String },

    #[error(
        "{path}: tensor `{tensor}` is missing; the checkpoint does not hold a complete BERT encoder \
         for its config.json (check num_hidden_layers, or that this is a BERT checkpoint)"
    )]
    MissingTensor { path: PathBuf, tensor: String },

    #[error(
        "{path}: tensor `{tensor}` has shape {found:?} but config.json implies {expected:?}; \
         the weights and config.json do not belong together"
    )]
    ShapeMismatch { path: PathBuf, tensor: String, expected: Vec<usize>, found: Vec<usize> },

    #[error("{path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },

    #[error("Hugging Face Hub, repo `{repo}`, file `{file}`: {reason}")]
    Hub { repo: String, file: String, reason: String },

    #[error("{0}")]
    Backend(String),

    /// A bad value in experiments.toml (or a `--set` override of it).
    #[error("{file}: {key}: {message}")]
    Config { file: PathBuf, key: String, message: String },

    /// Bad input given on the command line or in an input file.
    #[error("{0}")]
    Input(String),

    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    /// Exit code for this error: 2 for bad configuration or input, 1 for everything else. A
    /// read that failed because of what the user named (missing, a folder, a device, too large,
    /// not text) is bad input; any other I/O error is not.
    pub fn exit_code(&self) -> i32 {
        use std::io::ErrorKind::*;
        match self {
            Error::Internal(_) | Error::Write { .. } => 1,
            Error::Io { source, .. } => match source.kind() {
                NotFound | IsADirectory | NotADirectory | InvalidInput | InvalidData | FileTooLarge => 2,
                _ => 1,
            },
            _ => 2,
        }
    }
}
