//! The model adapters behind the app's `LanguageModel` port: candle in-process (a GGUF file
//! on a worker thread) and a remote OpenAI-compatible engine.

mod chat_template;
pub mod engine;
mod floats;
pub mod llama;
pub mod pool;
pub mod prefixes;
pub mod quant;
pub mod remote;
mod sampler;
mod text_stream;
pub mod tiny;
mod tokenizer;
pub mod worker;

pub use engine::Engine;
pub use remote::RemoteModel;
pub use worker::LocalModel;

/// Why a model file could not be loaded. Each message names the file's problem.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    File(#[from] crate::model_file::ModelFileError),
    #[error("the GGUF file is malformed or truncated: {0}")]
    Malformed(String),
    #[error("GGUF metadata: {0}")]
    Metadata(String),
    #[error("unsupported model: {0}")]
    Unsupported(String),
    #[error("model weights: {0}")]
    Weights(String),
}

/// Checks and loads a model file on the blocking pool (reading ~100 MB takes a moment).
pub async fn load(path: &std::path::Path, sha256: Option<String>) -> Result<Engine, LoadError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || Engine::load(&path, sha256))
        .await
        .map_err(|err| LoadError::Weights(format!("loading stopped: {err}")))?
}

#[cfg(test)]
mod agreement;
#[cfg(test)]
mod tests;
