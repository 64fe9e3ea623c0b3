//! Where exported lines go: files (with their SHA-256 and counts for the manifest), a
//! download stream, or only a count. Each sees one line at a time, and writes it as JSON
//! lines or, through the Parquet encoder, as a Parquet file.

use super::parquet::ParquetEncoder;
use app::dataset::{ExportFile, ExportFormat, FileType, Part};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

#[async_trait::async_trait]
pub trait Sink: Send {
    /// One line (with its newline) for one side of the split.
    async fn row(&mut self, part: Part, line: &[u8]) -> std::io::Result<()>;
}

/// Counts, bytes and SHA-256 of what one file received.
pub struct Tally {
    pub rows: u64,
    pub bytes: u64,
    hash: Sha256,
}

impl Default for Tally {
    fn default() -> Self {
        Tally { rows: 0, bytes: 0, hash: Sha256::new() }
    }
}

impl Tally {
    fn add(&mut self, bytes: &[u8]) {
        self.bytes += bytes.len() as u64;
        self.hash.update(bytes);
    }

    pub fn finish(self, name: String, format: ExportFormat, part: Part, file_type: FileType) -> ExportFile {
        let sha256 = self.hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        ExportFile { name, format, part, file_type, rows: self.rows, bytes: self.bytes, sha256 }
    }
}

/// The parts an export has: everything, or train and test.
pub fn parts(split: bool) -> Vec<Part> {
    if split { vec![Part::Train, Part::Test] } else { vec![Part::All] }
}

/// The file name of one part of one format.
pub fn file_name(format: ExportFormat, part: Part, file_type: FileType) -> String {
    match part {
        Part::All => format!("{}.{}", format.as_str(), file_type.as_str()),
        part => format!("{}-{}.{}", format.as_str(), part.as_str(), file_type.as_str()),
    }
}

/// About this many bytes are gathered before they go on (to a file, a download, a hash).
const CHUNK: usize = 64 * 1024;

/// One file being made: its rows encoded as the file type asks, counted and hashed as the
/// bytes leave.
pub struct Output {
    format: ExportFormat,
    part: Part,
    file_type: FileType,
    parquet: Option<Box<ParquetEncoder>>,
    pending: Vec<u8>,
    tally: Tally,
}

impl Output {
    pub fn new(format: ExportFormat, part: Part, file_type: FileType) -> std::io::Result<Output> {
        let parquet = match file_type {
            FileType::Jsonl => None,
            FileType::Parquet => Some(Box::new(ParquetEncoder::new(format)?)),
        };
        Ok(Output {
            format,
            part,
            file_type,
            parquet,
            pending: Vec::with_capacity(CHUNK),
            tally: Tally::default(),
        })
    }

    pub fn name(&self) -> String {
        file_name(self.format, self.part, self.file_type)
    }

    fn row(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.tally.rows += 1;
        match &mut self.parquet {
            None => self.pending.extend_from_slice(line),
            Some(encoder) => encoder.line(line, &mut self.pending)?,
        }
        Ok(())
    }

    /// The bytes made so far, once there are at least `at_least` of them (counted and hashed
    /// as they are handed out).
    fn take(&mut self, at_least: usize) -> Option<Vec<u8>> {
        if self.pending.is_empty() || self.pending.len() < at_least {
            return None;
        }
        self.tally.add(&self.pending);
        Some(std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK)))
    }

    /// The file's last bytes, and its manifest entry.
    fn finish(mut self) -> std::io::Result<(Vec<u8>, ExportFile)> {
        if let Some(encoder) = self.parquet.take() {
            encoder.finish(&mut self.pending)?;
        }
        let rest = self.take(0).unwrap_or_default();
        let name = self.name();
        Ok((rest, self.tally.finish(name, self.format, self.part, self.file_type)))
    }
}

/// Writes each part to its file in a folder.
pub struct FileSink {
    files: Vec<(Output, std::io::BufWriter<std::fs::File>)>,
}

impl FileSink {
    /// Creates the files (empty parts too, so a reader finds both sides of a split).
    pub fn create(
        dir: &Path,
        format: ExportFormat,
        split: bool,
        file_type: FileType,
    ) -> std::io::Result<FileSink> {
        let mut files = vec![];
        for part in parts(split) {
            let output = Output::new(format, part, file_type)?;
            let file = std::fs::File::create(dir.join(output.name()))?;
            files.push((output, std::io::BufWriter::with_capacity(1 << 20, file)));
        }
        Ok(FileSink { files })
    }

    pub fn finish(self) -> std::io::Result<Vec<ExportFile>> {
        let mut done = vec![];
        for (output, mut writer) in self.files {
            let (rest, file) = output.finish()?;
            writer.write_all(&rest)?;
            writer.flush()?;
            done.push(file);
        }
        Ok(done)
    }
}

#[async_trait::async_trait]
impl Sink for FileSink {
    async fn row(&mut self, part: Part, line: &[u8]) -> std::io::Result<()> {
        if let Some((output, writer)) = self.files.iter_mut().find(|f| f.0.part == part) {
            output.row(line)?;
            if let Some(bytes) = output.take(CHUNK) {
                writer.write_all(&bytes)?;
            }
        }
        Ok(())
    }
}

/// Counts and hashes each part without keeping anything: the manifest of a download.
pub struct TallySink {
    outputs: Vec<Output>,
}

impl TallySink {
    pub fn new(format: ExportFormat, split: bool, file_type: FileType) -> std::io::Result<TallySink> {
        let outputs =
            parts(split).into_iter().map(|p| Output::new(format, p, file_type)).collect::<Result<_, _>>()?;
        Ok(TallySink { outputs })
    }

    pub fn finish(self) -> std::io::Result<Vec<ExportFile>> {
        self.outputs.into_iter().map(|o| Ok(o.finish()?.1)).collect()
    }
}

#[async_trait::async_trait]
impl Sink for TallySink {
    async fn row(&mut self, part: Part, line: &[u8]) -> std::io::Result<()> {
        if let Some(output) = self.outputs.iter_mut().find(|o| o.part == part) {
            output.row(line)?;
            output.take(CHUNK);
        }
        Ok(())
    }
}

/// Sends one part, in chunks of about 64 KB, to a download; waits while the reader is
/// behind, so memory stays bounded. Stops with an error once the reader is gone.
pub struct ChannelSink {
    output: Output,
    sender: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
}

impl ChannelSink {
    pub fn new(
        output: Output,
        sender: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    ) -> Self {
        ChannelSink { output, sender }
    }

    pub async fn finish(self) -> std::io::Result<()> {
        let (rest, _) = self.output.finish()?;
        send(&self.sender, rest).await
    }
}

async fn send(
    sender: &tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    chunk: Vec<u8>,
) -> std::io::Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    sender
        .send(Ok(bytes::Bytes::from(chunk)))
        .await
        .map_err(|_| std::io::Error::other("the download was closed"))
}

#[async_trait::async_trait]
impl Sink for ChannelSink {
    async fn row(&mut self, part: Part, line: &[u8]) -> std::io::Result<()> {
        if part != self.output.part {
            return Ok(());
        }
        self.output.row(line)?;
        if let Some(chunk) = self.output.take(CHUNK) {
            send(&self.sender, chunk).await?;
        }
        Ok(())
    }
}
