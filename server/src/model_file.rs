//! The model file: present, a GGUF file, hashed (the hash is its version), and for the
//! default model the exact published bytes.

use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

pub const DEFAULT_MODEL_PATH: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
pub const DEFAULT_MODEL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("model file {0} not found; run `scripts/fetch-model.sh` or pass --model PATH")]
    Missing(PathBuf),
    #[error("model file {path} cannot be read: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("{0} is not a GGUF model file (it does not start with the GGUF magic bytes)")]
    NotGguf(PathBuf),
    #[error(
        "model file {path} has SHA-256 {actual}, expected {DEFAULT_MODEL_SHA256}; \
         delete it and run `scripts/fetch-model.sh` again"
    )]
    WrongChecksum { path: PathBuf, actual: String },
}

#[derive(Debug)]
pub struct CheckedModel {
    pub path: PathBuf,
    pub bytes: u64,
    /// The file's SHA-256: the model version every model-written text records.
    pub sha256: Option<String>,
    /// Whether the file is the default model, checked against its published hash.
    pub verified: bool,
}

impl fmt::Display for CheckedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "model {} ({} bytes", self.path.display(), self.bytes)?;
        match (&self.sha256, self.verified) {
            (Some(_), true) => write!(f, ", SHA-256 verified)"),
            (Some(sha256), false) => write!(f, ", SHA-256 {})", &sha256[..12.min(sha256.len())]),
            (None, _) => write!(f, ")"),
        }
    }
}

/// Checks the file on the blocking pool: hashing ~100 MB takes a moment.
pub async fn check(path: &Path) -> Result<CheckedModel, ModelFileError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || check_blocking(&path)).await.unwrap_or_else(|err| {
        Err(ModelFileError::Unreadable {
            path: PathBuf::new(),
            source: std::io::Error::other(err.to_string()),
        })
    })
}

pub fn check_blocking(path: &Path) -> Result<CheckedModel, ModelFileError> {
    let unreadable = |source| ModelFileError::Unreadable { path: path.to_path_buf(), source };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelFileError::Missing(path.to_path_buf()));
        }
        Err(err) => return Err(unreadable(err)),
    };
    let bytes = file.metadata().map_err(unreadable)?.len();
    let mut magic = [0u8; 4];
    if file.read_exact(&mut magic).is_err() || &magic != b"GGUF" {
        return Err(ModelFileError::NotGguf(path.to_path_buf()));
    }
    let mut hasher = Sha256::new();
    hasher.update(magic);
    std::io::copy(&mut file, &mut hasher).map_err(unreadable)?;
    let actual: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let verified = path.file_name().is_some_and(|name| name == DEFAULT_MODEL_FILE);
    if verified && actual != DEFAULT_MODEL_SHA256 {
        return Err(ModelFileError::WrongChecksum { path: path.to_path_buf(), actual });
    }
    Ok(CheckedModel { path: path.to_path_buf(), bytes, sha256: Some(actual), verified })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("parley-model-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn missing_file_says_how_to_fetch_it() {
        let err = check_blocking(Path::new("/nonexistent/model.gguf")).unwrap_err();
        assert!(matches!(err, ModelFileError::Missing(_)));
        assert!(err.to_string().contains("fetch-model.sh"));
    }

    #[test]
    fn non_gguf_file_is_refused() {
        let path = temp_file("model.gguf", b"<html>not a model</html>");
        assert!(matches!(check_blocking(&path), Err(ModelFileError::NotGguf(_))));
    }

    #[test]
    fn default_model_with_wrong_bytes_fails_its_checksum() {
        let path = temp_file(DEFAULT_MODEL_FILE, b"GGUF\x03\x00\x00\x00truncated");
        let err = check_blocking(&path).unwrap_err();
        assert!(matches!(err, ModelFileError::WrongChecksum { .. }), "{err}");
    }

    #[test]
    fn other_gguf_files_are_hashed_but_not_held_to_the_default_hash() {
        let path = temp_file("tiny.gguf", b"GGUF\x03\x00\x00\x00");
        let checked = check_blocking(&path).unwrap();
        assert!(!checked.verified);
        assert_eq!(checked.sha256.map(|s| s.len()), Some(64));
        assert_eq!(checked.bytes, 8);
    }
}
