//! Parquet files of the SFT and preference sets. Each JSON line the exporter makes is
//! checked against one fixed schema per format and shredded into columns (the record
//! shredding of Dremel, which Parquet stores: a definition and a repetition level per
//! value), then written with the parquet crate's column writers, snappy-compressed, row
//! group by row group. Memory stays bounded: one row group's values are held, and the
//! file's bytes leave as they are made. (Arrow's JSON reader did this before; dropping it
//! took Arrow's nine crates out of a fresh build.)

use app::dataset::ExportFormat;
use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{Type, TypePtr};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A row group is closed at this many rows, or at this estimated size of its values. The
/// group's values are held until it closes: 1,000,000 preference pairs peak at 64 MB RSS
/// with groups of 25,000 rows (`make bench-export`).
const ROW_GROUP_ROWS: usize = 25_000;
const ROW_GROUP_BYTES: usize = 16 << 20;

/// A column's values as the file stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    Text,
    Float,
    Int,
    /// An unsigned 64-bit integer (a seed), stored in INT64 with its logical type.
    UInt,
    Bool,
}

/// One field of a format's rows; every field may be null.
#[derive(Debug, Clone)]
pub struct Node {
    name: &'static str,
    kind: Kind,
    /// The columns (leaves) under this field.
    leaves: usize,
}

#[derive(Debug, Clone)]
enum Kind {
    Leaf(Leaf),
    Struct(Vec<Node>),
    /// A list of `item`s, in Parquet's three-level LIST layout.
    List(Box<Node>),
}

impl Node {
    /// The leaves' kinds, depth first (the order of the file's columns).
    fn leaf_kinds(&self, out: &mut Vec<Leaf>) {
        match &self.kind {
            Kind::Leaf(leaf) => out.push(*leaf),
            Kind::Struct(children) => children.iter().for_each(|c| c.leaf_kinds(out)),
            Kind::List(item) => item.leaf_kinds(out),
        }
    }

    fn parquet(&self) -> parquet::errors::Result<TypePtr> {
        let primitive = |physical, logical| {
            Type::primitive_type_builder(self.name, physical)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(logical)
                .build()
        };
        let built = match &self.kind {
            Kind::Leaf(Leaf::Text) => primitive(Physical::BYTE_ARRAY, Some(LogicalType::String))?,
            Kind::Leaf(Leaf::Float) => primitive(Physical::DOUBLE, None)?,
            Kind::Leaf(Leaf::Int) => primitive(Physical::INT64, None)?,
            Kind::Leaf(Leaf::UInt) => primitive(Physical::INT64, Some(LogicalType::integer(64, false)))?,
            Kind::Leaf(Leaf::Bool) => primitive(Physical::BOOLEAN, None)?,
            Kind::Struct(children) => Type::group_type_builder(self.name)
                .with_repetition(Repetition::OPTIONAL)
                .with_fields(children.iter().map(Node::parquet).collect::<Result<_, _>>()?)
                .build()?,
            Kind::List(item) => {
                let repeated = Type::group_type_builder("list")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(vec![item.parquet()?])
                    .build()?;
                Type::group_type_builder(self.name)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(Some(LogicalType::List))
                    .with_fields(vec![Arc::new(repeated)])
                    .build()?
            }
        };
        Ok(Arc::new(built))
    }
}

fn leaf(name: &'static str, leaf: Leaf) -> Node {
    Node { name, kind: Kind::Leaf(leaf), leaves: 1 }
}

fn text(name: &'static str) -> Node {
    leaf(name, Leaf::Text)
}

fn structure(name: &'static str, children: Vec<Node>) -> Node {
    let leaves = children.iter().map(|c| c.leaves).sum();
    Node { name, kind: Kind::Struct(children), leaves }
}

fn list(name: &'static str, item: Node) -> Node {
    Node { name, leaves: item.leaves, kind: Kind::List(Box::new(item)) }
}

/// A list of `{role, content}` messages, as TRL's conversational datasets store them.
fn messages(name: &'static str) -> Node {
    list(name, structure("element", vec![text("role"), text("content")]))
}

fn indices(name: &'static str) -> Node {
    list(name, leaf("element", Leaf::Int))
}

fn groups(name: &'static str) -> Node {
    list(name, indices("element"))
}

/// A model-written text's parameters and seed (`app::model::SamplingParams`).
fn sampling(name: &'static str) -> Node {
    structure(
        name,
        vec![
            leaf("temperature", Leaf::Float),
            leaf("top_p", Leaf::Float),
            leaf("top_k", Leaf::Int),
            leaf("max_tokens", Leaf::Int),
            list("stop", text("element")),
            leaf("seed", Leaf::UInt),
        ],
    )
}

/// Who wrote each SFT message, and how.
fn provenance(name: &'static str) -> Node {
    let suggestion =
        vec![text("model_name"), leaf("edit_distance", Leaf::Int), leaf("edit_ratio", Leaf::Float)];
    list(
        name,
        structure(
            "element",
            vec![
                text("author"),
                text("model_name"),
                sampling("sampling"),
                structure("from_suggestion", suggestion),
            ],
        ),
    )
}

/// The columns of a format's Parquet file: those of its JSON lines.
pub fn schema(format: ExportFormat) -> Option<&'static [Node]> {
    static SCHEMAS: std::sync::LazyLock<Vec<Option<Vec<Node>>>> =
        std::sync::LazyLock::new(|| ExportFormat::ALL.iter().map(|f| fields_of(*f)).collect());
    let index = ExportFormat::ALL.iter().position(|f| *f == format)?;
    SCHEMAS[index].as_deref()
}

fn fields_of(format: ExportFormat) -> Option<Vec<Node>> {
    let fields = match format {
        ExportFormat::Sft => vec![
            messages("messages"),
            provenance("provenance"),
            text("conversation_id"),
            text("trainer"),
            text("source"),
            text("status"),
        ],
        ExportFormat::PreferenceTrl => vec![
            messages("prompt"),
            messages("chosen"),
            messages("rejected"),
            leaf("margin", Leaf::Float),
            text("chosen_model"),
            text("rejected_model"),
            text("comparison_id"),
            text("ranking_id"),
            text("trainer"),
        ],
        ExportFormat::PreferenceOpenai => vec![
            structure("input", vec![messages("messages")]),
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
            leaf("rankers", Leaf::Int),
            list("models", text("element")),
            list("sampling", sampling("element")),
            text("comparison_id"),
            text("ranking_id"),
            text("trainer"),
        ],
        ExportFormat::Kto => vec![
            messages("prompt"),
            messages("completion"),
            leaf("label", Leaf::Bool),
            text("model"),
            text("trainer"),
        ],
        ExportFormat::FilterFeedback | ExportFormat::OasstTrees => return None,
    };
    debug_assert!(format.has_parquet());
    Some(fields)
}

/// One column of the row group being gathered: its levels, and its values (texts one
/// after another in `bytes`, each ending at its entry of `ends`).
struct Column {
    leaf: Leaf,
    def: Vec<i16>,
    rep: Vec<i16>,
    bytes: Vec<u8>,
    ends: Vec<usize>,
    numbers: Vec<i64>,
    floats: Vec<f64>,
    bools: Vec<bool>,
}

impl Column {
    fn new(leaf: Leaf) -> Column {
        Column {
            leaf,
            def: vec![],
            rep: vec![],
            bytes: vec![],
            ends: vec![],
            numbers: vec![],
            floats: vec![],
            bools: vec![],
        }
    }

    /// A null, or an empty list, at these levels.
    fn level(&mut self, rep: i16, def: i16) {
        self.rep.push(rep);
        self.def.push(def);
    }

    /// A value read from the line; the name of the type expected if it is not one.
    fn value(&mut self, value: Scalar<'_>, rep: i16, def: i16) -> Result<(), &'static str> {
        match (self.leaf, value) {
            (Leaf::Text, Scalar::Text(text)) => {
                self.bytes.extend_from_slice(text.as_bytes());
                self.ends.push(self.bytes.len());
            }
            (Leaf::Text, _) => return Err("a string"),
            (Leaf::Float, Scalar::Float(x)) => self.floats.push(x),
            (Leaf::Float, Scalar::Int(n)) => self.floats.push(n as f64),
            (Leaf::Float, Scalar::UInt(n)) => self.floats.push(n as f64),
            (Leaf::Float, _) => return Err("a number"),
            (Leaf::Int, Scalar::Int(n)) => self.numbers.push(n),
            (Leaf::Int, Scalar::UInt(n)) => self.numbers.push(i64::try_from(n).map_err(|_| "an integer")?),
            (Leaf::Int, _) => return Err("an integer"),
            // Stored as the same 64 bits, read back as unsigned (the column's logical type).
            (Leaf::UInt, Scalar::UInt(n)) => self.numbers.push(n as i64),
            (Leaf::UInt, _) => return Err("an unsigned integer"),
            (Leaf::Bool, Scalar::Bool(b)) => self.bools.push(b),
            (Leaf::Bool, _) => return Err("true or false"),
        }
        self.level(rep, def);
        Ok(())
    }

    fn mark(&self) -> [usize; 6] {
        [
            self.def.len(),
            self.ends.len(),
            self.numbers.len(),
            self.floats.len(),
            self.bools.len(),
            self.bytes.len(),
        ]
    }

    fn truncate(&mut self, [levels, ends, numbers, floats, bools, bytes]: [usize; 6]) {
        self.def.truncate(levels);
        self.rep.truncate(levels);
        self.ends.truncate(ends);
        self.numbers.truncate(numbers);
        self.floats.truncate(floats);
        self.bools.truncate(bools);
        self.bytes.truncate(bytes);
    }

    fn size(&self) -> usize {
        4 * self.def.len()
            + self.bytes.len()
            + 8 * (self.numbers.len() + self.floats.len())
            + self.bools.len()
    }

    /// Writes the column's values into the row group, and empties it.
    fn write(
        &mut self,
        writer: &mut parquet::file::writer::SerializedColumnWriter<'_>,
    ) -> parquet::errors::Result<()> {
        let levels = (Some(&self.def[..]), Some(&self.rep[..]));
        match self.leaf {
            Leaf::Text => {
                let bytes = bytes::Bytes::from(std::mem::take(&mut self.bytes));
                let mut start = 0;
                let values: Vec<ByteArray> = self
                    .ends
                    .iter()
                    .map(|&end| {
                        let value = ByteArray::from(bytes.slice(start..end));
                        start = end;
                        value
                    })
                    .collect();
                writer.typed::<ByteArrayType>().write_batch(&values, levels.0, levels.1)?;
            }
            Leaf::Float => {
                writer.typed::<DoubleType>().write_batch(&self.floats, levels.0, levels.1)?;
            }
            Leaf::Int | Leaf::UInt => {
                writer.typed::<Int64Type>().write_batch(&self.numbers, levels.0, levels.1)?;
            }
            Leaf::Bool => {
                writer.typed::<BoolType>().write_batch(&self.bools, levels.0, levels.1)?;
            }
        }
        *self = Column::new(self.leaf);
        Ok(())
    }
}

/// A JSON value that is not an object or a list.
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    Text(&'a str),
    Float(f64),
    Int(i64),
    UInt(u64),
    Bool(bool),
}

impl std::fmt::Display for Scalar<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Text(text) => write!(f, "{}", serde_json::Value::from(*text)),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Int(n) => write!(f, "{n}"),
            Scalar::UInt(n) => write!(f, "{n}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Where a value is in its row, for the error that names it.
enum Step {
    Field(&'static str),
    /// A key the schema lacks.
    Unknown(String),
    Index(usize),
}

/// The columns being gathered, and the path to the value being read.
struct Shredder<'c> {
    columns: &'c mut [Column],
    path: &'c mut Vec<Step>,
}

impl Shredder<'_> {
    /// "`path`: `what`", as errors name a value (`groups[0][1]: expected an integer`).
    fn error<E: serde::de::Error>(&self, what: impl std::fmt::Display) -> E {
        let mut path = String::new();
        for step in self.path.iter() {
            let name = match step {
                Step::Index(i) => {
                    path.push_str(&format!("[{i}]"));
                    continue;
                }
                Step::Field(name) => name,
                Step::Unknown(name) => name.as_str(),
            };
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(name);
        }
        E::custom(format!("{path}: {what}"))
    }

    /// A null, or the end of what is there, for every column of a field.
    fn levels(&mut self, columns: (usize, usize), rep: i16, def: i16) {
        self.columns[columns.0..columns.1].iter_mut().for_each(|c| c.level(rep, def));
    }
}

/// Reads one value of field `node` straight from the line into the node's columns
/// (`columns`, a range), the record shredding that Parquet stores: `def` is the definition
/// level of its parent, `rep` the repetition level of this value, `depth` the number of
/// lists above the node. No JSON tree is built.
struct Shred<'s, 'c> {
    node: &'static Node,
    shredder: &'s mut Shredder<'c>,
    columns: (usize, usize),
    rep: i16,
    def: i16,
    depth: i16,
}

impl<'de> serde::de::DeserializeSeed<'de> for Shred<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Shred<'_, '_> {
    fn scalar<E: serde::de::Error>(self, value: Scalar<'_>) -> Result<(), E> {
        match &self.node.kind {
            Kind::Leaf(_) => self.shredder.columns[self.columns.0]
                .value(value, self.rep, self.def + 1)
                .map_err(|expected| self.shredder.error(format!("expected {expected}, found {value}"))),
            Kind::Struct(_) => Err(self.shredder.error(format!("expected an object, found {value}"))),
            Kind::List(_) => Err(self.shredder.error(format!("expected a list, found {value}"))),
        }
    }

    fn null<E>(self) -> Result<(), E> {
        self.shredder.levels(self.columns, self.rep, self.def);
        Ok(())
    }
}

impl<'de> serde::de::Visitor<'de> for Shred<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "the value of {}", self.node.name)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(Scalar::Text(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        self.scalar(Scalar::Float(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(Scalar::Int(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(Scalar::UInt(v))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(Scalar::Bool(v))
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.null()
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.null()
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Kind::List(item) = &self.node.kind else {
            return Err(self.shredder.error(match self.node.kind {
                Kind::Struct(_) => "expected an object, found a list",
                _ => "expected a single value, found a list",
            }));
        };
        let mut count = 0;
        loop {
            self.shredder.path.push(Step::Index(count));
            let element = Shred {
                node: item,
                shredder: &mut *self.shredder,
                columns: self.columns,
                rep: if count == 0 { self.rep } else { self.depth + 1 },
                def: self.def + 2,
                depth: self.depth + 1,
            };
            let more = seq.next_element_seed(element)?;
            self.shredder.path.pop();
            if more.is_none() {
                break;
            }
            count += 1;
        }
        if count == 0 {
            self.shredder.levels(self.columns, self.rep, self.def + 1);
        }
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let Kind::Struct(children) = &self.node.kind else {
            return Err(self.shredder.error(match self.node.kind {
                Kind::List(_) => "expected a list, found an object",
                _ => "expected a single value, found an object",
            }));
        };
        fields(children, self.shredder, self.columns.0, self.rep, self.def + 1, self.depth, map)
    }
}

/// Finds a key among a struct's fields, without copying it.
struct Key(&'static [Node]);

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = Result<usize, String>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key {
    type Value = Result<usize, String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|node| node.name == key).ok_or_else(|| key.to_string()))
    }
}

/// The fields of an object, each into its columns (the first at `first`); a key the
/// schema lacks, or one given twice, is an error (never dropped), and a field the object
/// lacks is null.
fn fields<'de, A: serde::de::MapAccess<'de>>(
    nodes: &'static [Node],
    shredder: &mut Shredder<'_>,
    first: usize,
    rep: i16,
    def: i16,
    depth: i16,
    mut map: A,
) -> Result<(), A::Error> {
    debug_assert!(nodes.len() <= 64, "a struct of more than 64 fields");
    let start = |index: usize| first + nodes[..index].iter().map(|n| n.leaves).sum::<usize>();
    let mut seen = 0u64;
    while let Some(key) = map.next_key_seed(Key(nodes))? {
        let index = match key {
            Ok(index) => index,
            Err(key) => {
                shredder.path.push(Step::Unknown(key));
                return Err(shredder.error("a column the schema lacks"));
            }
        };
        let node = &nodes[index];
        shredder.path.push(Step::Field(node.name));
        if seen & (1 << index) != 0 {
            return Err(shredder.error("given twice"));
        }
        seen |= 1 << index;
        let columns = (start(index), start(index) + node.leaves);
        map.next_value_seed(Shred { node, shredder: &mut *shredder, columns, rep, def, depth })?;
        shredder.path.pop();
    }
    for (index, node) in nodes.iter().enumerate() {
        if seen & (1 << index) == 0 {
            shredder.levels((start(index), start(index) + node.leaves), rep, def);
        }
    }
    Ok(())
}

/// A whole line: an object of the format's fields.
struct Row<'s, 'c>(&'static [Node], &'s mut Shredder<'c>);

impl<'de> serde::de::Visitor<'de> for Row<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a row (a JSON object)")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        fields(self.0, self.1, 0, 0, 0, 0, map)
    }
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
    fields: &'static [Node],
    columns: Vec<Column>,
    /// Each column's length before the current line (kept for the next line's use).
    marks: Vec<[usize; 6]>,
    /// The path of the value being read (kept for the next line's use).
    path: Vec<Step>,
    rows: usize,
    writer: SerializedFileWriter<Spool>,
    spool: Spool,
}

impl ParquetEncoder {
    pub fn new(format: ExportFormat) -> std::io::Result<ParquetEncoder> {
        let fields = schema(format)
            .ok_or_else(|| std::io::Error::other(format!("{} has no Parquet form", format.as_str())))?;
        let root = Type::group_type_builder("schema")
            .with_fields(fields.iter().map(Node::parquet).collect::<Result<_, _>>().map_err(io)?)
            .build()
            .map_err(io)?;
        let mut kinds = vec![];
        fields.iter().for_each(|f| f.leaf_kinds(&mut kinds));
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("parley {}", env!("CARGO_PKG_VERSION")))
            .build();
        let spool = Spool::default();
        let writer =
            SerializedFileWriter::new(spool.clone(), Arc::new(root), Arc::new(properties)).map_err(io)?;
        Ok(ParquetEncoder {
            fields,
            columns: kinds.into_iter().map(Column::new).collect(),
            marks: vec![],
            path: vec![],
            rows: 0,
            writer,
            spool,
        })
    }

    /// Takes one JSON line (one row); appends to `out` whatever file bytes are ready. A
    /// line that does not fit the schema is an error naming the field, and leaves none of
    /// its values behind.
    pub fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        self.marks.clear();
        self.marks.extend(self.columns.iter().map(Column::mark));
        self.path.clear();
        let mut shredder = Shredder { columns: &mut self.columns, path: &mut self.path };
        let mut reader = serde_json::Deserializer::from_slice(line);
        let read = serde::Deserializer::deserialize_map(&mut reader, Row(self.fields, &mut shredder))
            .and_then(|()| reader.end());
        if let Err(err) = read {
            for (column, mark) in self.columns.iter_mut().zip(&self.marks) {
                column.truncate(*mark);
            }
            return Err(io(err));
        }
        self.rows += 1;
        if self.rows >= ROW_GROUP_ROWS
            || self.columns.iter().map(Column::size).sum::<usize>() >= ROW_GROUP_BYTES
        {
            self.write_group()?;
        }
        self.spool.drain_into(out);
        Ok(())
    }

    fn write_group(&mut self) -> std::io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group().map_err(io)?;
        for column in &mut self.columns {
            let mut writer =
                group.next_column().map_err(io)?.ok_or_else(|| io("fewer columns than the schema"))?;
            column.write(&mut writer).map_err(io)?;
            writer.close().map_err(io)?;
        }
        group.close().map_err(io)?;
        self.rows = 0;
        Ok(())
    }

    /// Writes the last rows and the footer; appends the rest of the file to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        self.write_group()?;
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

    /// A value read back with the parquet crate's own record reader, as JSON.
    fn json(field: &parquet::record::Field) -> serde_json::Value {
        use parquet::record::Field;
        match field {
            Field::Null => serde_json::Value::Null,
            Field::Bool(b) => (*b).into(),
            Field::Long(n) => (*n).into(),
            Field::ULong(n) => (*n).into(),
            Field::Double(x) => (*x).into(),
            Field::Str(s) => s.as_str().into(),
            Field::Group(row) => row.get_column_iter().map(|(k, v)| (k.clone(), json(v))).collect(),
            Field::ListInternal(list) => list.elements().iter().map(json).collect(),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn read_back(file: Vec<u8>) -> Vec<serde_json::Value> {
        let reader = SerializedFileReader::new(bytes::Bytes::from(file)).unwrap();
        reader
            .get_row_iter(None)
            .unwrap()
            .map(|row| json(&parquet::record::Field::Group(row.unwrap())))
            .collect()
    }

    /// Every field of every format, nested lists of structs of lists included, with nulls,
    /// empty lists and null elements: read back with the parquet crate's reader, equal.
    #[test]
    fn nested_rows_read_back_equal() {
        let sampling = r#"{"temperature":0.7,"top_p":0.9,"top_k":40,"max_tokens":64,"stop":["\n","END"],"seed":18446744073709551615}"#;
        let kwise = [
            format!(
                r#"{{"prompt":[{{"role":"user","content":"Hi ✓"}}],"completions":[{{"role":"assistant","content":"a"}},{{"role":"assistant","content":""}}],"ranking":[1,0],"groups":[[1],[0,2],[]],"consensus":null,"rankers":3,"models":["m",null],"sampling":[{sampling},null,{{"temperature":1.0,"top_p":1.0,"top_k":0,"max_tokens":1,"stop":[],"seed":0}}],"comparison_id":"c","ranking_id":null,"trainer":"t"}}"#
            ),
            r#"{"prompt":[],"completions":null,"ranking":[],"groups":[[]],"consensus":[[3]],"rankers":null,"models":[],"sampling":[],"comparison_id":null,"ranking_id":"r","trainer":null}"#.to_string(),
        ];
        let sft = [format!(
            r#"{{"messages":[{{"role":"user","content":"q"}},{{"role":"assistant","content":null}}],"provenance":[{{"author":"trainer","model_name":null,"sampling":null,"from_suggestion":null}},{{"author":"model","model_name":"m","sampling":{sampling},"from_suggestion":{{"model_name":"m","edit_distance":3,"edit_ratio":0.25}}}}],"conversation_id":"c","trainer":"t","source":"s","status":"ready"}}"#
        )];
        let kto = [r#"{"prompt":[{"role":"user","content":"x"}],"completion":[{"role":"assistant","content":"y"}],"label":false,"model":"m","trainer":"t"}"#.to_string()];
        let openai = [r#"{"input":{"messages":[{"role":"user","content":"x"}]},"preferred_output":[{"role":"assistant","content":"y"}],"non_preferred_output":[]}"#.to_string(), r#"{"input":null,"preferred_output":null,"non_preferred_output":null}"#.to_string()];
        for (format, lines) in [
            (ExportFormat::Kwise, &kwise[..]),
            (ExportFormat::Sft, &sft[..]),
            (ExportFormat::Kto, &kto[..]),
            (ExportFormat::PreferenceOpenai, &openai[..]),
        ] {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let rows = read_back(encode(format, &lines));
            let expected: Vec<serde_json::Value> =
                lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
            assert_eq!(rows, expected, "{}", format.as_str());
        }
    }

    /// Enough rows for several row groups: all there, in order.
    #[test]
    fn rows_across_row_groups_stay_in_order() {
        let lines: Vec<String> =
            (0..ROW_GROUP_ROWS * 2 + 7).map(|i| format!(r#"{{"chosen":"c{i}","rejected":null}}"#)).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let file = encode(ExportFormat::PreferenceHh, &lines);
        let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 3);
        let rows = read_back(file);
        assert_eq!(rows.len(), lines.len());
        assert_eq!(rows[ROW_GROUP_ROWS + 1]["chosen"], format!("c{}", ROW_GROUP_ROWS + 1));
        assert!(rows.last().unwrap()["rejected"].is_null());
    }

    /// A line of the wrong type is refused naming its field, and leaves nothing behind: the
    /// rows around it read back whole.
    #[test]
    fn a_bad_line_names_its_field_and_leaves_nothing() {
        let mut encoder = ParquetEncoder::new(ExportFormat::Kwise).unwrap();
        let mut out = vec![];
        let good = r#"{"prompt":[{"role":"user","content":"a"}],"completions":[],"ranking":[0],"groups":[[0]],"consensus":[],"rankers":1,"models":["m"],"sampling":[],"comparison_id":"c","ranking_id":"r","trainer":"t"}"#;
        let bad = r#"{"prompt":[{"role":"user","content":"b"}],"completions":[],"ranking":[0],"groups":[[0, "x"]],"consensus":[],"rankers":1,"models":["m"],"sampling":[],"comparison_id":"c","ranking_id":"r","trainer":"t"}"#;
        encoder.line(good.as_bytes(), &mut out).unwrap();
        let err = encoder.line(bad.as_bytes(), &mut out).unwrap_err().to_string();
        assert!(err.contains("groups[0][1]: expected an integer, found \"x\""), "{err}");
        encoder.line(good.as_bytes(), &mut out).unwrap();
        encoder.finish(&mut out).unwrap();
        let expected: serde_json::Value = serde_json::from_str(good).unwrap();
        assert_eq!(read_back(out), vec![expected.clone(), expected]);
    }

    #[test]
    fn a_column_the_schema_lacks_is_an_error() {
        let mut encoder = ParquetEncoder::new(ExportFormat::PreferenceHh).unwrap();
        let mut out = vec![];
        let line = b"{\"chosen\":\"a\",\"rejected\":\"b\",\"extra\":1}\n";
        let err = encoder.line(line, &mut out).and_then(|()| encoder.finish(&mut out));
        assert!(err.is_err_and(|e| e.to_string().contains("extra")));
    }

    /// A key nested in a list of structs that the schema lacks, and a key given twice, are
    /// refused by their paths.
    #[test]
    fn unknown_and_repeated_keys_are_named() {
        let refuse = |format, line: &str| {
            let mut encoder = ParquetEncoder::new(format).unwrap();
            encoder.line(line.as_bytes(), &mut vec![]).unwrap_err().to_string()
        };
        let nested = r#"{"prompt":[{"role":"user","content":"x"},{"role":"user","content":"y","name":"n"}],"completion":[],"label":true,"model":"m","trainer":"t"}"#;
        let err = refuse(ExportFormat::Kto, nested);
        assert!(err.contains("prompt[1].name: a column the schema lacks"), "{err}");
        let err = refuse(ExportFormat::PreferenceHh, r#"{"chosen":"a","chosen":"b"}"#);
        assert!(err.contains("chosen: given twice"), "{err}");
        let err = refuse(ExportFormat::PreferenceHh, r#"["a","b"]"#);
        assert!(err.contains("a row (a JSON object)"), "{err}");
        let err = refuse(ExportFormat::PreferenceHh, r#"{"chosen":"a"} {"#);
        assert!(err.contains("trailing"), "{err}");
    }

    #[test]
    fn a_format_without_parquet_is_refused() {
        assert!(ParquetEncoder::new(ExportFormat::OasstTrees).is_err());
    }
}
