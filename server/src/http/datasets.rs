//! The Datasets page's two plain routes, admins only: `POST /api/datasets/import` takes a
//! file as the raw body (the page shows the upload's progress), and `GET
//! /api/datasets/export` streams one file of an export as a download (or the manifest).

use super::reply::{JsonQuery, caller, error};
use crate::datasets::import::{ReadLimits, read};
use crate::datasets::sink::{ChannelSink, Output, TallySink};
use crate::datasets::{Exporter, cli::check_options};
use crate::store::SqlStore;
use crate::store::datasets::NewImport;
use app::dataset::{ExportFormat, ExportOptions, FileType, ImportFormat, Part};
use app::domain::Role;
use app::error::{ApiError, ErrorKind};
use app::ssr::AppState;
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

/// Largest file the upload takes (bytes, unzipped too).
#[derive(Clone, Copy)]
pub struct ImportLimit(pub usize);

#[derive(Deserialize)]
pub struct ImportQuery {
    request_id: Uuid,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    file_name: Option<String>,
}

pub async fn import(
    State(state): State<AppState>,
    Extension(store): Extension<Arc<SqlStore>>,
    Extension(limit): Extension<ImportLimit>,
    headers: HeaderMap,
    JsonQuery(query): JsonQuery<ImportQuery>,
    body: Body,
) -> Response {
    let user = match caller(&state, &headers, Role::Admin).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let request_id = query.request_id;
    let (format, source, file_name) = match checked(&store, query).await {
        Ok(checked) => checked,
        Err(answer) => {
            drain(body).await;
            return answer;
        }
    };
    let limits = ReadLimits { text_bytes: state.limits.message_bytes, turns: state.limits.messages };
    let max = limit.0;
    enum Refused {
        File(ApiError),
        Rows(app::dataset::ImportRefusal),
    }
    // The upload goes to a file on disk as it arrives (an unnamed temporary file, gone
    // when closed), not into memory, and is read from there.
    let file = match spool(body).await {
        Ok(file) => file,
        Err(response) => return response,
    };
    let parsed = tokio::task::spawn_blocking(move || {
        let bytes = crate::datasets::read_file(file, max).map_err(|problem| {
            let kind = match problem {
                crate::datasets::FileProblem::TooLarge(_) => ErrorKind::TooLarge,
                crate::datasets::FileProblem::Unreadable(_) => ErrorKind::Invalid,
            };
            Refused::File(ApiError::field(kind, "file", problem.to_string()))
        })?;
        read(&bytes, format, limits).map_err(Refused::Rows)
    })
    .await;
    let parsed = match parsed {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(Refused::File(err))) => return error(err),
        Ok(Err(Refused::Rows(refusal))) => {
            let first = refusal.problems.first().map(|p| p.to_string()).unwrap_or_default();
            let message = format!("nothing imported: {} problem(s); {first}", refusal.total);
            let mut body = serde_json::to_value(ApiError::field(ErrorKind::Invalid, "file", message))
                .unwrap_or_default();
            body["problems"] = serde_json::to_value(&refusal.problems).unwrap_or_default();
            body["total"] = refusal.total.into();
            return (http::StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
        }
        Err(_) => return error(ApiError::internal()),
    };
    let new = NewImport { id: request_id, source, file_name, by: user.id };
    match store.store_import(&new, &parsed).await {
        Ok(done) => axum::Json(done).into_response(),
        Err(err) => error(err.into()),
    }
}

/// The upload's format, source and file name, or the answer to give without reading the
/// file: a bad option, or a retried upload (answered with what the first stored).
async fn checked(store: &SqlStore, query: ImportQuery) -> Result<(ImportFormat, String, String), Response> {
    let format =
        match query.format.as_deref().filter(|f| !f.is_empty()).unwrap_or("auto").parse::<ImportFormat>() {
            Ok(format) => format,
            Err(message) => return Err(error(ApiError::field(ErrorKind::Invalid, "format", message))),
        };
    // A retried upload answers what the first stored.
    match store.import(query.request_id).await {
        Ok(Some(done)) => return Err(axum::Json(done).into_response()),
        Ok(None) => {}
        Err(err) => return Err(error(err.into())),
    }
    let file_name =
        query.file_name.unwrap_or_else(|| "upload.jsonl".into()).chars().take(200).collect::<String>();
    let source = query
        .source
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| file_name.clone());
    if source.contains('\0') || file_name.contains('\0') {
        let field = if source.contains('\0') { "source" } else { "file_name" };
        return Err(error(ApiError::field(
            ErrorKind::Invalid,
            field,
            format!("{field} cannot contain a NUL character"),
        )));
    }
    if source.len() > 200 {
        return Err(error(ApiError::field(
            ErrorKind::Invalid,
            "source",
            "a source name has 200 characters at most",
        )));
    }
    Ok((format, source, file_name))
}

/// Reads and drops the rest of a body (the body limit bounds it). An answer given while the
/// client is still sending makes the server close the connection, and a client mid-upload
/// can see that reset instead of the answer.
async fn drain(body: Body) {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    while let Some(Ok(_)) = stream.next().await {}
}

/// Writes a request body to an unnamed temporary file and rewinds it. A body cut off at the
/// upload limit is 413, a broken connection 400, both as JSON; nothing is imported.
async fn spool(body: Body) -> Result<std::fs::File, Response> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let failed = |err: std::io::Error| {
        tracing::error!(%err, "cannot spool an upload to disk");
        error(ApiError::new(ErrorKind::Unavailable, "the upload could not be stored on the server's disk"))
    };
    let file =
        tokio::task::spawn_blocking(tempfile::tempfile).await.map_err(|_| error(ApiError::internal()))?;
    let mut file = tokio::io::BufWriter::new(tokio::fs::File::from_std(file.map_err(failed)?));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => file.write_all(&bytes).await.map_err(failed)?,
            Err(err) => {
                let over =
                    std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |e| e.source())
                        .any(|e| e.is::<http_body_util::LengthLimitError>());
                return Err(if over {
                    error(ApiError::field(
                        ErrorKind::TooLarge,
                        "file",
                        "the upload is larger than this Parley takes (--max-import-mb)",
                    ))
                } else {
                    error(ApiError::field(
                        ErrorKind::Invalid,
                        "file",
                        format!("the upload was cut off: {err}"),
                    ))
                });
            }
        }
    }
    file.flush().await.map_err(failed)?;
    let mut file = file.into_inner().into_std().await;
    use std::io::Seek;
    file.rewind().map_err(failed)?;
    Ok(file)
}

#[derive(Deserialize)]
pub struct ExportQuery {
    /// A format, or `manifest`.
    format: String,
    #[serde(default)]
    part: Option<Part>,
    /// `jsonl` (the default) or `parquet`.
    #[serde(default)]
    file: Option<String>,
    // Listed one by one: the query decoder cannot read numbers through `flatten`.
    from: Option<String>,
    to: Option<String>,
    model_version: Option<Uuid>,
    trainer: Option<Uuid>,
    status: Option<String>,
    source: Option<String>,
    #[serde(default)]
    ties: bool,
    split_seed: Option<u64>,
    #[serde(default)]
    test_ratio: f64,
    pseudonym_seed: Option<u64>,
}

pub async fn export(
    State(state): State<AppState>,
    Extension(store): Extension<Arc<SqlStore>>,
    headers: HeaderMap,
    JsonQuery(query): JsonQuery<ExportQuery>,
) -> Response {
    if let Err(response) = caller(&state, &headers, Role::Admin).await {
        return response;
    }
    let options = ExportOptions {
        from: query.from,
        to: query.to,
        model_version: query.model_version,
        trainer: query.trainer,
        status: query.status,
        source: query.source,
        ties: query.ties,
        split_seed: query.split_seed,
        test_ratio: if query.split_seed.is_some() { query.test_ratio } else { 0.0 },
        pseudonym_seed: query.pseudonym_seed,
    };
    if let Err((field, message)) = check_options(&options) {
        return error(ApiError::field(ErrorKind::Invalid, field, message));
    }
    let split = options.split_seed.is_some();
    let file_type = match query.file.as_deref().unwrap_or("jsonl").parse::<FileType>() {
        Ok(file_type) => file_type,
        Err(_) => {
            return error(ApiError::field(ErrorKind::Invalid, "file", "the file type is jsonl or parquet"));
        }
    };
    if query.format == "manifest" {
        let store = store.clone();
        return on_a_blocking_thread(async move { manifest(&store, options, file_type).await })
            .await
            .unwrap_or_else(|| error(ApiError::internal()));
    }
    let format = match query.format.parse::<ExportFormat>() {
        Ok(format) => format,
        Err(message) => return error(ApiError::field(ErrorKind::Invalid, "format", message)),
    };
    if file_type == FileType::Parquet && !format.has_parquet() {
        let message = format!("{} has no Parquet form; ask for file=jsonl", format.as_str());
        return error(ApiError::field(ErrorKind::Invalid, "file", message));
    }
    let part = query.part.unwrap_or(if split { Part::Train } else { Part::All });
    if split == (part == Part::All) {
        let message = if split {
            "a split export has parts train and test"
        } else {
            "ask for a split (split_seed) to get a part"
        };
        return error(ApiError::field(ErrorKind::Invalid, "part", message));
    }
    let output = match Output::new(format, part, file_type) {
        Ok(output) => output,
        Err(err) => return error(ApiError::new(ErrorKind::Internal, err.to_string())),
    };
    let name = output.name();
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let store = store.clone();
    // Not awaited: the rows go to the body as they are encoded.
    drop(on_a_blocking_thread(async move {
        let mut sink = ChannelSink::new(output, sender.clone());
        let written = match Exporter::new(&store, options).await {
            Ok(exporter) => exporter.write(format, &mut sink).await,
            Err(err) => Err(err),
        };
        let finished = match written {
            Ok(()) => sink.finish().await.map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        if let Err(err) = finished {
            // The download ends in an error, never as a file that looks complete.
            tracing::warn!(%err, "export stopped");
            let _ = sender.send(Err(std::io::Error::other(err))).await;
        }
    }));
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver));
    let disposition = format!("attachment; filename=\"{name}\"");
    let content_type = match file_type {
        FileType::Jsonl => "application/x-ndjson",
        FileType::Parquet => "application/vnd.apache.parquet",
    };
    ([(CONTENT_TYPE, content_type.to_string()), (CONTENT_DISPOSITION, disposition)], body).into_response()
}

/// Runs an export on a blocking thread, started at once: encoding and hashing rows is CPU
/// work that would otherwise hold one of the runtime's few worker threads for a whole
/// download. `None` if it panicked.
fn on_a_blocking_thread<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> impl std::future::Future<Output = Option<T>> {
    let runtime = tokio::runtime::Handle::current();
    let task = tokio::task::spawn_blocking(move || runtime.block_on(work));
    async move { task.await.ok() }
}

/// Every format's files of one type, counted and hashed as a download of each would be
/// (nothing kept).
async fn manifest(store: &SqlStore, options: ExportOptions, file_type: FileType) -> Response {
    let split = options.split_seed.is_some();
    let exporter = match Exporter::new(store, options.clone()).await {
        Ok(exporter) => exporter,
        Err(err) => return error(ApiError::new(ErrorKind::Internal, err.to_string())),
    };
    let mut files = vec![];
    for format in ExportFormat::ALL {
        if file_type == FileType::Parquet && !format.has_parquet() {
            continue;
        }
        let tallied = match TallySink::new(format, split, file_type) {
            Ok(mut sink) => match exporter.write(format, &mut sink).await {
                Ok(()) => sink.finish().map_err(|e| e.to_string()),
                Err(err) => Err(err.to_string()),
            },
            Err(err) => Err(err.to_string()),
        };
        match tallied {
            Ok(done) => files.extend(done),
            Err(err) => return error(ApiError::new(ErrorKind::Internal, err)),
        }
    }
    let manifest = match crate::datasets::manifest(store, options, files).await {
        Ok(manifest) => manifest,
        Err(err) => return error(ApiError::new(ErrorKind::Internal, err.to_string())),
    };
    ([(CONTENT_DISPOSITION, "attachment; filename=\"manifest.json\"")], axum::Json(manifest)).into_response()
}
