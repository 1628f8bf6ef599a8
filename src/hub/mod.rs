//! Files from the Hugging Face Hub through `hf-hub`, honouring its cache (`HF_HOME`) and
//! `HF_HUB_OFFLINE=1` (cache only).

pub mod files;

use std::path::PathBuf;

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

use crate::error::{Error, Result};

/// Where the Hub cache is and whether the network may be used.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// The `hub` folder of the cache (`$HF_HOME/hub`, default `~/.cache/huggingface/hub`).
    pub cache_dir: PathBuf,
    pub offline: bool,
    pub endpoint: Option<String>,
}

impl HubSettings {
    /// From `HF_HOME`, `HF_HUB_OFFLINE` and `HF_ENDPOINT`, as `huggingface_hub` reads them.
    pub fn from_env() -> Self {
        let offline = std::env::var("HF_HUB_OFFLINE")
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
            .unwrap_or(false);
        Self { cache_dir: Cache::from_env().path().clone(), offline, endpoint: std::env::var("HF_ENDPOINT").ok() }
    }

    /// A cache-only setting on a given folder (tests, and the offline path).
    pub fn offline_cache(cache_dir: impl Into<PathBuf>) -> Self {
        Self { cache_dir: cache_dir.into(), offline: true, endpoint: None }
    }
}

/// One repository at one revision.
#[derive(Debug, Clone)]
pub struct HubRepo {
    pub id: String,
    pub revision: String,
    pub kind: RepoType,
    settings: HubSettings,
}

impl HubRepo {
    pub fn model(id: &str, revision: &str, settings: &HubSettings) -> Self {
        Self { id: id.into(), revision: revision.into(), kind: RepoType::Model, settings: settings.clone() }
    }

    pub fn dataset(id: &str, revision: &str, settings: &HubSettings) -> Self {
        Self { id: id.into(), revision: revision.into(), kind: RepoType::Dataset, settings: settings.clone() }
    }

    fn repo(&self) -> Repo {
        Repo::with_revision(self.id.clone(), self.kind, self.revision.clone())
    }

    /// The file from the cache, if it is there. A revision that is a commit hash is looked up
    /// in `snapshots/<hash>/` directly, as `huggingface_hub` stores it.
    pub fn cached(&self, file: &str) -> Option<PathBuf> {
        let cache = Cache::new(self.settings.cache_dir.clone());
        if let Some(p) = cache.repo(self.repo()).get(file) {
            return Some(p);
        }
        let is_commit = self.revision.len() == 40 && self.revision.chars().all(|c| c.is_ascii_hexdigit());
        if is_commit {
            let p = self
                .settings
                .cache_dir
                .join(self.repo().folder_name())
                .join("snapshots")
                .join(&self.revision)
                .join(file);
            if p.is_file() {
                return Some(p);
            }
        }
        None
    }

    /// The file, from the cache or downloaded into it. `Ok(None)` when the repo has no such
    /// file (or, offline, when the cache does not hold it).
    pub fn get_optional(&self, file: &str) -> Result<Option<PathBuf>> {
        if let Some(p) = self.cached(file) {
            return Ok(Some(p));
        }
        if self.settings.offline {
            return Ok(None);
        }
        match self.download(file) {
            Ok(p) => Ok(Some(p)),
            Err(DownloadError::NotFound) => Ok(None),
            Err(DownloadError::Other(reason)) => Err(self.error(file, reason)),
        }
    }

    /// The file, which must exist; the error names the repo, the file and what to do.
    pub fn get(&self, file: &str) -> Result<PathBuf> {
        match self.get_optional(file)? {
            Some(p) => Ok(p),
            None if self.settings.offline => Err(self.error(
                file,
                format!(
                    "not in the cache at {} and HF_HUB_OFFLINE is set; download it on a machine with \
                     internet (or unset HF_HUB_OFFLINE), or give a local folder instead of a Hub id",
                    self.settings.cache_dir.display()
                ),
            )),
            None => Err(self.error(file, format!("the repository has no such file at revision `{}`", self.revision))),
        }
    }

    fn error(&self, file: &str, reason: String) -> Error {
        Error::Hub { repo: format!("{}@{}", self.id, self.revision), file: file.into(), reason }
    }

    fn download(&self, file: &str) -> std::result::Result<PathBuf, DownloadError> {
        let mut builder =
            ApiBuilder::from_cache(Cache::new(self.settings.cache_dir.clone())).with_progress(false).with_retries(1);
        if let Some(endpoint) = &self.settings.endpoint {
            builder = builder.with_endpoint(endpoint.clone());
        }
        let api = builder.build().map_err(|e| DownloadError::Other(e.to_string()))?;
        api.repo(self.repo()).get(file).map_err(|e| {
            let text = e.to_string();
            if text.contains("404") {
                DownloadError::NotFound
            } else {
                DownloadError::Other(format!(
                    "download failed ({text}); if the Hub is unreachable from this machine, fill the cache \
                     elsewhere and set HF_HUB_OFFLINE=1, or give a local folder instead of a Hub id"
                ))
            }
        })
    }
}

enum DownloadError {
    NotFound,
    Other(String),
}

/// Whether `spec` names a Hub repository (`name` or `owner/name`) rather than a path.
pub fn looks_like_repo_id(spec: &str) -> bool {
    let parts: Vec<&str> = spec.split('/').collect();
    !spec.is_empty()
        && parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// A Hub cache on disk for tests (here and in `tests/`), since the Hub is not reachable.
pub mod testing {
    use std::fs;
    use std::path::Path;

    /// Lays `files` out in `cache` the way hf-hub and huggingface_hub do: blobs, a snapshot
    /// folder per commit whose entries point at the blobs, and `refs/<revision>`.
    pub fn fake_cache(cache: &Path, repo_folder: &str, revision: &str, commit: &str, files: &[(&str, &[u8])]) {
        let root = cache.join(repo_folder);
        fs::create_dir_all(root.join("refs")).unwrap();
        fs::write(root.join("refs").join(revision), commit).unwrap();
        for (i, (name, bytes)) in files.iter().enumerate() {
            let blob = root.join("blobs").join(format!("blob{i}"));
            fs::create_dir_all(blob.parent().unwrap()).unwrap();
            fs::write(&blob, bytes).unwrap();
            let link = root.join("snapshots").join(commit).join(name);
            fs::create_dir_all(link.parent().unwrap()).unwrap();
            #[cfg(unix)]
            std::os::unix::fs::symlink(&blob, &link).unwrap();
            #[cfg(not(unix))]
            fs::copy(&blob, &link).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::fake_cache;
    use super::*;
    use std::fs;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn finds_files_by_branch_and_by_commit() {
        let dir = tempfile::tempdir().unwrap();
        fake_cache(dir.path(), "models--org--tiny", "main", COMMIT, &[("config.json", b"{}")]);
        let settings = HubSettings::offline_cache(dir.path());
        let by_branch = HubRepo::model("org/tiny", "main", &settings);
        assert_eq!(fs::read(by_branch.get("config.json").unwrap()).unwrap(), b"{}");
        let by_commit = HubRepo::model("org/tiny", COMMIT, &settings);
        assert!(by_commit.get("config.json").is_ok());
        assert!(by_branch.get_optional("vocab.txt").unwrap().is_none());
    }

    #[test]
    fn offline_miss_names_repo_file_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let settings = HubSettings::offline_cache(dir.path());
        let err = HubRepo::model("bert-base-uncased", "main", &settings).get("model.safetensors").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bert-base-uncased@main"), "{text}");
        assert!(text.contains("model.safetensors"), "{text}");
        assert!(text.contains("HF_HUB_OFFLINE"), "{text}");
        assert!(text.contains("local folder"), "{text}");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn dataset_repos_use_their_own_folder() {
        let dir = tempfile::tempdir().unwrap();
        fake_cache(dir.path(), "datasets--nyu-mll--glue", "abc", COMMIT, &[("sst2/x.parquet", b"p")]);
        let settings = HubSettings::offline_cache(dir.path());
        assert!(HubRepo::dataset("nyu-mll/glue", "abc", &settings).get("sst2/x.parquet").is_ok());
        assert!(HubRepo::model("nyu-mll/glue", "abc", &settings).cached("sst2/x.parquet").is_none());
    }

    #[test]
    fn repo_ids_and_paths_are_told_apart() {
        assert!(looks_like_repo_id("bert-base-uncased"));
        assert!(looks_like_repo_id("sentence-transformers/all-MiniLM-L6-v2"));
        assert!(!looks_like_repo_id("./models/tiny"));
        assert!(!looks_like_repo_id("/abs/path"));
        assert!(!looks_like_repo_id("a/b/c"));
        assert!(!looks_like_repo_id(""));
    }
}
