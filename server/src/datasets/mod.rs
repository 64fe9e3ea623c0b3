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

/// Why a file to import could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub enum FileProblem {
    /// Over the limit, as sent or once unzipped.
    TooLarge(String),
    /// Gzip that does not decode to the end: damaged, cut short, or followed by other bytes.
    Unreadable(String),
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileProblem::TooLarge(message) | FileProblem::Unreadable(message) => f.write_str(message),
        }
    }
}

/// Reads a file to import, unzipping it when it is gzip; refuses one over `max_bytes`
/// (after unzipping too), naming the limit. Every gzip member is read (`cat a.gz b.gz`,
/// pigz), and anything after the last one that is not another member refuses the file:
/// part of a file is never imported as if it were all of it.
pub fn read_file(source: impl std::io::Read, max_bytes: usize) -> Result<Vec<u8>, FileProblem> {
    use std::io::{BufRead, Read};
    let limit = max_bytes as u64 + 1;
    let mut source = std::io::BufReader::with_capacity(1 << 16, source);
    let gzip = source
        .fill_buf()
        .map_err(|e| FileProblem::Unreadable(format!("cannot read the file: {e}")))?
        .starts_with(&[0x1f, 0x8b]);
    let (mut reader, unreadable, too_large): (Box<dyn Read>, _, _) = if gzip {
        (Box::new(flate2::bufread::MultiGzDecoder::new(source)), "not a readable gzip file", "unzips to")
    } else {
        (Box::new(source), "cannot read the file", "is")
    };
    let mut out = vec![];
    reader
        .by_ref()
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| FileProblem::Unreadable(format!("{unreadable}: {e}")))?;
    if out.len() > max_bytes {
        return Err(FileProblem::TooLarge(format!(
            "the file {too_large} over the {} MB an import may hold",
            max_bytes >> 20
        )));
    }
    Ok(out)
}

/// The manifest of an export's files: with the options, this Parley's version and the time,
/// and the figures of the latest reward model trained on rankings of the export's source.
pub async fn manifest(
    store: &SqlStore,
    options: ExportOptions,
    files: Vec<app::dataset::ExportFile>,
) -> Result<Manifest, ExportError> {
    let runs = store.reward_runs().await?;
    let reward_model = runs
        .iter()
        .filter(|r| r.status == app::reward::RunStatus::Done && r.options.source == options.source)
        .find_map(app::dataset::ManifestReward::of);
    Ok(Manifest {
        parley_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: app::ssr::clock::now_rfc3339(),
        options,
        files,
        reward_model,
    })
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
    let manifest = manifest(store, options, files).await?;
    let text = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("manifest.json"), text)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::{FileProblem, read_file};
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn every_gzip_member_is_read() {
        let mut file = gzip(b"{\"a\":1}\n");
        file.extend(gzip(b"{\"a\":2}\n"));
        assert_eq!(read_file(&file[..], 1 << 20).unwrap(), b"{\"a\":1}\n{\"a\":2}\n");
    }

    #[test]
    fn bytes_after_the_gzip_refuse_the_file() {
        let mut file = gzip(b"{\"a\":1}\n");
        file.extend(b"garbage after the member");
        assert!(matches!(read_file(&file[..], 1 << 20), Err(FileProblem::Unreadable(_))));
        let cut = gzip(&vec![b'x'; 10_000]);
        assert!(matches!(read_file(&cut[..cut.len() - 8], 1 << 20), Err(FileProblem::Unreadable(_))));
    }

    #[test]
    fn over_the_limit_is_too_large_plain_or_unzipped() {
        let plain = vec![b'a'; 2048];
        assert!(matches!(read_file(&plain[..], 1024), Err(FileProblem::TooLarge(_))));
        assert_eq!(read_file(&plain[..], 2048).unwrap().len(), 2048);
        assert!(matches!(read_file(&gzip(&plain)[..], 1024), Err(FileProblem::TooLarge(_))));
    }
}
