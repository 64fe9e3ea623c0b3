//! Parquet files of the SFT and preference sets. The JSON lines the exporter makes are
//! decoded into Arrow batches against one fixed schema per format, then written as Parquet
//! (snappy) row group by row group. Memory stays bounded: one batch of rows and one row
//! group are held, and the file's bytes leave as they are made.

use app::dataset::ExportFormat;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Rows decoded into one Arrow batch.
const BATCH_ROWS: usize = 1024;
/// A row group is closed at this many rows, or at this estimated encoded size. The writer
/// holds a group's pages until it closes: 1,000,000 preference pairs peak at 64 MB RSS with
/// groups of 25,000 rows, 89 MB with 100,000 (`make bench-export`).
const ROW_GROUP_ROWS: usize = 25_000;
const ROW_GROUP_BYTES: usize = 16 << 20;

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn message() -> Field {
    Field::new("item", DataType::Struct(Fields::from(vec![text("role"), text("content")])), true)
}

/// A list of `{role, content}` messages, as TRL's conversational datasets store them.
fn messages(name: &str) -> Field {
    Field::new_list(name, message(), true)
}

fn indices(name: &str) -> Field {
    Field::new_list(name, Field::new("item", DataType::Int64, true), true)
}

fn groups(name: &str) -> Field {
    Field::new_list(name, indices("item"), true)
}

/// A model-written text's parameters and seed (`app::model::SamplingParams`).
fn sampling(name: &str) -> Field {
    let fields = vec![
        Field::new("temperature", DataType::Float64, true),
        Field::new("top_p", DataType::Float64, true),
        Field::new("top_k", DataType::Int64, true),
        Field::new("max_tokens", DataType::Int64, true),
        Field::new_list("stop", Field::new("item", DataType::Utf8, true), true),
        Field::new("seed", DataType::UInt64, true),
    ];
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}

/// Who wrote each SFT message, and how.
fn provenance(name: &str) -> Field {
    let suggestion = vec![
        text("model_name"),
        Field::new("edit_distance", DataType::Int64, true),
        Field::new("edit_ratio", DataType::Float64, true),
    ];
    let fields = vec![
        text("author"),
        text("model_name"),
        sampling("sampling"),
        Field::new("from_suggestion", DataType::Struct(Fields::from(suggestion)), true),
    ];
    Field::new_list(name, Field::new("item", DataType::Struct(Fields::from(fields)), true), true)
}

/// The columns of a format's Parquet file: those of its JSON lines.
pub fn schema(format: ExportFormat) -> Option<SchemaRef> {
    let fields = match format {
        ExportFormat::Sft => {
            vec![
                messages("messages"),
                provenance("provenance"),
                text("conversation_id"),
                text("trainer"),
                text("source"),
                text("status"),
            ]
        }
        ExportFormat::PreferenceTrl => vec![
            messages("prompt"),
            messages("chosen"),
            messages("rejected"),
            Field::new("margin", DataType::Float64, true),
            text("chosen_model"),
            text("rejected_model"),
            text("comparison_id"),
            text("ranking_id"),
            text("trainer"),
        ],
        ExportFormat::PreferenceOpenai => vec![
            Field::new("input", DataType::Struct(Fields::from(vec![messages("messages")])), true),
            messages("preferred_output"),
            messages("non_preferred_output"),
        ],
        ExportFormat::PreferenceHh => vec![text("chosen"), text("rejected")],
        ExportFormat::Kwise => vec![
            messages("prompt"),
            messages("completions"),
            indices("ranking"),
            groups("groups"),
            groups("consensus"),
            Field::new("rankers", DataType::Int64, true),
            Field::new_list("models", Field::new("item", DataType::Utf8, true), true),
            Field::new_list("sampling", sampling("item"), true),
            text("comparison_id"),
            text("ranking_id"),
            text("trainer"),
        ],
        ExportFormat::Kto => vec![
            messages("prompt"),
            messages("completion"),
            Field::new("label", DataType::Boolean, true),
            text("model"),
            text("trainer"),
        ],
        ExportFormat::FilterFeedback | ExportFormat::OasstTrees => return None,
    };
    debug_assert!(format.has_parquet());
    Some(Arc::new(Schema::new(fields)))
}

/// Where the Parquet writer puts its bytes until the sink takes them.
#[derive(Clone, Default)]
struct Spool(Arc<Mutex<Vec<u8>>>);

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("spool poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Spool {
    fn drain_into(&self, out: &mut Vec<u8>) {
        if let Ok(mut spool) = self.0.lock() {
            out.append(&mut spool);
        }
    }
}

fn io(err: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("parquet: {err}"))
}

/// Turns one format's JSON lines into a Parquet file.
pub struct ParquetEncoder {
    decoder: arrow_json::reader::Decoder,
    writer: ArrowWriter<Spool>,
    spool: Spool,
}

impl ParquetEncoder {
    pub fn new(format: ExportFormat) -> std::io::Result<ParquetEncoder> {
        let schema = schema(format)
            .ok_or_else(|| std::io::Error::other(format!("{} has no Parquet form", format.as_str())))?;
        // Strict: a column the lines carry but the schema lacks is an error, never dropped.
        let decoder = arrow_json::ReaderBuilder::new(schema.clone())
            .with_batch_size(BATCH_ROWS)
            .with_strict_mode(true)
            .build_decoder()
            .map_err(io)?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("parley {}", env!("CARGO_PKG_VERSION")))
            .build();
        let spool = Spool::default();
        let writer = ArrowWriter::try_new(spool.clone(), schema, Some(properties)).map_err(io)?;
        Ok(ParquetEncoder { decoder, writer, spool })
    }

    fn write_batch(&mut self) -> std::io::Result<()> {
        if let Some(batch) = self.decoder.flush().map_err(io)? {
            self.writer.write(&batch).map_err(io)?;
        }
        Ok(())
    }

    /// Takes one JSON line; appends to `out` whatever file bytes are ready.
    pub fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        let mut rest = line;
        loop {
            let read = self.decoder.decode(rest).map_err(io)?;
            rest = &rest[read..];
            if self.decoder.len() >= BATCH_ROWS {
                self.write_batch()?;
            }
            if rest.is_empty() {
                break;
            }
        }
        self.spool.drain_into(out);
        Ok(())
    }

    /// Writes the last rows and the footer; appends the rest of the file to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        self.write_batch()?;
        self.writer.close().map_err(io)?;
        self.spool.drain_into(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn encode(format: ExportFormat, lines: &[&str]) -> Vec<u8> {
        let mut encoder = ParquetEncoder::new(format).unwrap();
        let mut out = vec![];
        for line in lines {
            encoder.line(format!("{line}\n").as_bytes(), &mut out).unwrap();
        }
        encoder.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn every_parquet_format_has_a_schema_and_the_others_none() {
        for format in ExportFormat::ALL {
            assert_eq!(schema(format).is_some(), format.has_parquet(), "{}", format.as_str());
        }
    }

    #[test]
    fn preference_pairs_read_back_with_their_columns_and_rows() {
        let line = r#"{"prompt":[{"role":"user","content":"Hi"}],"chosen":[{"role":"assistant","content":"Hello"}],"rejected":[{"role":"assistant","content":"Go away"}],"margin":1.0,"chosen_model":"m","rejected_model":null,"comparison_id":"c","ranking_id":"r","trainer":"t"}"#;
        let lines = vec![line; 2500];
        let file = encode(ExportFormat::PreferenceTrl, &lines);
        assert_eq!(&file[..4], b"PAR1");
        assert_eq!(&file[file.len() - 4..], b"PAR1");
        let reader = SerializedFileReader::new(bytes::Bytes::from(file)).unwrap();
        let meta = reader.metadata().file_metadata();
        assert_eq!(meta.num_rows(), 2500);
        let columns: Vec<String> =
            meta.schema_descr().root_schema().get_fields().iter().map(|f| f.name().to_string()).collect();
        assert_eq!(
            columns,
            [
                "prompt",
                "chosen",
                "rejected",
                "margin",
                "chosen_model",
                "rejected_model",
                "comparison_id",
                "ranking_id",
                "trainer"
            ]
        );
    }

    #[test]
    fn a_column_the_schema_lacks_is_an_error() {
        let mut encoder = ParquetEncoder::new(ExportFormat::PreferenceHh).unwrap();
        let mut out = vec![];
        let line = b"{\"chosen\":\"a\",\"rejected\":\"b\",\"extra\":1}\n";
        let err = encoder.line(line, &mut out).and_then(|()| encoder.finish(&mut out));
        assert!(err.is_err_and(|e| e.to_string().contains("extra")));
    }

    #[test]
    fn a_format_without_parquet_is_refused() {
        assert!(ParquetEncoder::new(ExportFormat::OasstTrees).is_err());
    }
}
