//! Datasets: importing instruction data as dialogues and exporting training sets, from the
//! command line and the Datasets page.

pub mod cli;
pub mod export;
pub mod import;
pub mod parquet;
pub mod sink;

use crate::store::SqlStore;
use app::dataset::{ExportFormat, ExportOptions, FileType, Manifest};
use std::path::Path;

pub use export::{ExportError, Exporter};

/// Opens a file to import, unzipping it when it is gzip; refuses one over `max_bytes`
/// (after unzipping too), naming the limit.
pub fn read_file(bytes: Vec<u8>, max_bytes: usize) -> Result<Vec<u8>, String> {
    if bytes.len() > max_bytes {
        return Err(format!(
            "the file is {} MB, over the {} MB an import may hold",
            bytes.len() >> 20,
            max_bytes >> 20
        ));
    }
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    use std::io::Read;
    let mut out = vec![];
    let decoder = flate2::read::GzDecoder::new(&bytes[..]);
    decoder
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("not a readable gzip file: {e}"))?;
    if out.len() > max_bytes {
        return Err(format!("the file unzips to over the {} MB an import may hold", max_bytes >> 20));
    }
    Ok(out)
}

/// The manifest of an export's files: with the options, this Parley's version and the time.
pub fn manifest(options: ExportOptions, files: Vec<app::dataset::ExportFile>) -> Manifest {
    Manifest {
        parley_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: app::ssr::clock::now_rfc3339(),
        options,
        files,
    }
}

/// Writes each format's files of each type asked for into a folder (Parquet only for the
/// formats that have it), then `manifest.json` with their counts and SHA-256, the options, and this
/// Parley's version.
pub async fn export_to_dir(
    store: &SqlStore,
    formats: &[ExportFormat],
    options: ExportOptions,
    file_types: &[FileType],
    dir: &Path,
) -> Result<Manifest, ExportError> {
    std::fs::create_dir_all(dir)?;
    let exporter = Exporter::new(store, options.clone()).await?;
    let mut files = vec![];
    for format in formats {
        for &file_type in file_types {
            if file_type == FileType::Parquet && !format.has_parquet() {
                continue;
            }
            let mut sink = sink::FileSink::create(dir, *format, options.split_seed.is_some(), file_type)?;
            exporter.write(*format, &mut sink).await?;
            files.extend(sink.finish()?);
        }
    }
    let manifest = manifest(options, files);
    let text = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("manifest.json"), text)?;
    Ok(manifest)
}
