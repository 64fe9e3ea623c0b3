//! Where exported lines go: files (with their SHA-256 and counts for the manifest), a
//! download stream, or only a count. Each sees one line at a time.

use app::dataset::{ExportFile, ExportFormat, Part};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

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
    fn add(&mut self, line: &[u8]) {
        self.rows += 1;
        self.bytes += line.len() as u64;
        self.hash.update(line);
    }

    pub fn finish(self, name: String, format: ExportFormat, part: Part) -> ExportFile {
        let sha256 = self.hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        ExportFile { name, format, part, rows: self.rows, bytes: self.bytes, sha256 }
    }
}

/// The parts an export has: everything, or train and test.
pub fn parts(split: bool) -> Vec<Part> {
    if split { vec![Part::Train, Part::Test] } else { vec![Part::All] }
}

/// The file name of one part of one format.
pub fn file_name(format: ExportFormat, part: Part) -> String {
    match part {
        Part::All => format!("{}.jsonl", format.as_str()),
        part => format!("{}-{}.jsonl", format.as_str(), part.as_str()),
    }
}

/// Writes each part to its file in a folder.
pub struct FileSink {
    format: ExportFormat,
    files: Vec<(Part, PathBuf, std::io::BufWriter<std::fs::File>, Tally)>,
}

impl FileSink {
    /// Creates the files (empty parts too, so a reader finds both sides of a split).
    pub fn create(dir: &Path, format: ExportFormat, split: bool) -> std::io::Result<FileSink> {
        let mut files = vec![];
        for part in parts(split) {
            let path = dir.join(file_name(format, part));
            let file = std::fs::File::create(&path)?;
            files.push((part, path, std::io::BufWriter::with_capacity(1 << 20, file), Tally::default()));
        }
        Ok(FileSink { format, files })
    }

    pub fn finish(self) -> std::io::Result<Vec<ExportFile>> {
        let mut done = vec![];
        for (part, _, mut writer, tally) in self.files {
            writer.flush()?;
            done.push(tally.finish(file_name(self.format, part), self.format, part));
        }
        Ok(done)
    }
}

#[async_trait::async_trait]
impl Sink for FileSink {
    async fn row(&mut self, part: Part, line: &[u8]) -> std::io::Result<()> {
        if let Some((_, _, writer, tally)) = self.files.iter_mut().find(|f| f.0 == part) {
            writer.write_all(line)?;
            tally.add(line);
        }
        Ok(())
    }
}

/// Counts and hashes each part without keeping anything: the manifest of a download.
pub struct TallySink {
    pub tallies: Vec<(Part, Tally)>,
}

impl TallySink {
    pub fn new(split: bool) -> TallySink {
        TallySink { tallies: parts(split).into_iter().map(|p| (p, Tally::default())).collect() }
    }
}

#[async_trait::async_trait]
impl Sink for TallySink {
    async fn row(&mut self, part: Part, line: &[u8]) -> std::io::Result<()> {
        if let Some((_, tally)) = self.tallies.iter_mut().find(|t| t.0 == part) {
            tally.add(line);
        }
        Ok(())
    }
}

/// Sends one part, in chunks of about 64 KB, to a download; waits while the reader is
/// behind, so memory stays bounded. Stops with an error once the reader is gone.
pub struct ChannelSink {
    part: Part,
    buffer: Vec<u8>,
    sender: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
}

const CHUNK: usize = 64 * 1024;

impl ChannelSink {
    pub fn new(part: Part, sender: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>) -> Self {
        ChannelSink { part, buffer: Vec::with_capacity(CHUNK), sender }
    }

    async fn send(&mut self) -> std::io::Result<()> {
        let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK)));
        self.sender.send(Ok(chunk)).await.map_err(|_| std::io::Error::other("the download was closed"))
    }

    pub async fn finish(mut self) -> std::io::Result<()> {
        if !self.buffer.is_empty() {
            self.send().await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Sink for ChannelSink {
    async fn row(&mut self, part: Part, line: &[u8]) -> std::io::Result<()> {
        if part != self.part {
            return Ok(());
        }
        self.buffer.extend_from_slice(line);
        if self.buffer.len() >= CHUNK {
            self.send().await?;
        }
        Ok(())
    }
}
