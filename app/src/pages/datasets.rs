//! Datasets (admins): import a file as conversations and prompts, with the upload's
//! progress and, when refused, every problem named by line and field; export each training
//! set as a streamed download, with filters, a train/test split and pseudonyms.

use crate::api::datasets::list_imports;
use crate::dataset::{ExportFormat, ImportFormat, ImportProblem, ImportSummary};
use leptos::prelude::*;
use uuid::Uuid;

/// What the upload came to (set by the browser's upload, so unused in the server build).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Outcome {
    Idle,
    Sending(f64),
    Reading,
    Done(ImportSummary),
    Refused { message: String, problems: Vec<ImportProblem>, total: usize },
}

#[component]
pub fn DatasetsPage() -> impl IntoView {
    let outcome = RwSignal::new(Outcome::Idle);
    let request_id = StoredValue::new(Uuid::new_v4());
    let imports = Resource::new(move || matches!(outcome.get(), Outcome::Done(_)), |_| list_imports());
    let format = RwSignal::new("auto".to_string());
    let source = RwSignal::new(String::new());
    let file_input = NodeRef::<leptos::html::Input>::new();
    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if matches!(outcome.get_untracked(), Outcome::Sending(_) | Outcome::Reading) {
            return;
        }
        upload(file_input, format.get_untracked(), source.get_untracked(), request_id, outcome);
    };
    view! {
        <section class="card">
            <h1>"Datasets"</h1>
            <h2>"Import"</h2>
            <p class="muted">
                "JSONL, or JSONL compressed with gzip: instruction rows (instruction or prompt, optional input, "
                "optional output / response / completion), OpenAI / TRL messages, Anthropic HH-RLHF pairs, "
                "TRL preference rows (prompt / chosen / rejected), rankings kept whole (prompt / completions / ranking, "
                "as Parley exports them), Open-Assistant trees, or one prompt a line. Rows with an answer become "
                "submitted demonstrations; prompts without one become prompts to chat from. Preference rows also "
                "become comparisons, ranked as the file says and credited to the source (not to a trainer): they "
                "export and count in agreement like Parley's own. A file with any bad line imports nothing."
            </p>
            <form class="stack" on:submit=start data-testid="import-form">
                <label>"File" <input type="file" name="file" accept=".jsonl,.json,.gz,.jsonl.gz" node_ref=file_input required /></label>
                <label>
                    "Format"
                    <select name="format" on:change=move |ev| format.set(event_target_value(&ev))>
                        {ImportFormat::ALL.into_iter().map(|f| view! { <option value=f.as_str()>{f.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Source (kept on each conversation; the file name if empty)"
                    <input type="text" name="source" maxlength="200" on:input=move |ev| source.set(event_target_value(&ev)) />
                </label>
                <button type="submit" disabled=move || matches!(outcome.get(), Outcome::Sending(_) | Outcome::Reading)>"Import"</button>
            </form>
            {move || match outcome.get() {
                Outcome::Idle => ().into_any(),
                Outcome::Sending(share) => view! {
                    <p><progress max="100" value=format!("{:.0}", share * 100.0) data-testid="upload-progress"></progress>
                    {format!(" Uploading… {:.0}%", share * 100.0)}</p>
                }.into_any(),
                Outcome::Reading => view! { <p data-testid="upload-progress">"Uploaded; reading and storing…"</p> }.into_any(),
                Outcome::Done(done) => view! {
                    <p class="notice" role="status" data-testid="import-done">{format!(
                        "Imported {} ({}, {} rows): {} conversations, {} prompts; {} duplicates skipped.{}",
                        done.file_name, done.format.as_str(), done.rows, done.conversations, done.prompts, done.duplicates,
                        if done.comparisons > 0 {
                            format!(" {} comparisons with {} rankings, credited to {}.", done.comparisons, done.rankings, done.source)
                        } else {
                            String::new()
                        }
                    )}</p>
                }.into_any(),
                Outcome::Refused { message, problems, total } => view! {
                    <div class="error" role="alert" data-testid="import-refused">
                        <p>{message}</p>
                        <ul>{problems.into_iter().map(|p| view! { <li>{p.to_string()}</li> }).collect_view()}</ul>
                        {(total > 20).then(|| view! { <p>{format!("… {} problems in all.", total)}</p> })}
                    </div>
                }.into_any(),
            }}
            <h3>"Imports"</h3>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let rows = imports.await.unwrap_or_default().into_iter().map(|i| view! {
                        <tr data-testid="import-row">
                            <td class="muted">{crate::pages::short_time(&i.created_at)}</td>
                            <td>{i.source}</td>
                            <td>{i.format.as_str()}</td>
                            <td>{i.file_name}</td>
                            <td>{i.conversations}</td>
                            <td>{i.prompts}</td>
                            <td>{i.duplicates}</td>
                            <td>{i.comparisons}</td>
                        </tr>
                    }).collect_view();
                    view! {
                        <table>
                            <thead><tr><th>"When"</th><th>"Source"</th><th>"Format"</th><th>"File"</th><th>"Conversations"</th><th>"Prompts"</th><th>"Duplicates"</th><th>"Ranked comparisons"</th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    }
                })}
            </Transition>
        </section>
        <ExportCard />
    }
}

/// Sends the chosen file as the request body, showing its progress; the id is kept until
/// the import is stored, so a retry after a lost answer imports once.
#[allow(unused_variables)]
fn upload(
    input: NodeRef<leptos::html::Input>,
    format: String,
    source: String,
    request_id: StoredValue<Uuid>,
    outcome: RwSignal<Outcome>,
) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        let Some(file) = input.get_untracked().and_then(|i| i.files()).and_then(|f| f.get(0)) else {
            outcome.set(Outcome::Refused {
                message: "choose a file first".into(),
                problems: vec![],
                total: 0,
            });
            return;
        };
        let url = format!(
            "/api/datasets/import?request_id={}&format={}&source={}&file_name={}",
            request_id.get_value(),
            encode_component(&format),
            encode_component(&source),
            encode_component(&file.name())
        );
        let Ok(xhr) = web_sys::XmlHttpRequest::new() else { return };
        if xhr.open("POST", &url).is_err() {
            return;
        }
        outcome.set(Outcome::Sending(0.0));
        if let Ok(upload) = xhr.upload() {
            let progress =
                Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |ev: web_sys::ProgressEvent| {
                    if ev.length_computable() && ev.total() > 0.0 {
                        let share = ev.loaded() / ev.total();
                        outcome.set(if share >= 1.0 { Outcome::Reading } else { Outcome::Sending(share) });
                    }
                });
            upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
            progress.forget();
        }
        let answered = xhr.clone();
        let done = Closure::<dyn FnMut()>::new(move || {
            let status = answered.status().unwrap_or(0);
            let text = answered.response_text().ok().flatten().unwrap_or_default();
            let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if status == 200 {
                if let Ok(summary) = serde_json::from_value::<ImportSummary>(body) {
                    request_id.set_value(Uuid::new_v4());
                    outcome.set(Outcome::Done(summary));
                }
            } else {
                let message = body["message"].as_str().unwrap_or("the import failed").to_string();
                let problems = serde_json::from_value(body["problems"].clone()).unwrap_or_default();
                let total = body["total"].as_u64().unwrap_or(0) as usize;
                outcome.set(Outcome::Refused { message, problems, total });
            }
        });
        xhr.set_onloadend(Some(done.as_ref().unchecked_ref()));
        done.forget();
        if xhr.send_with_opt_blob(Some(&file)).is_err() {
            outcome.set(Outcome::Refused {
                message: "the file could not be sent".into(),
                problems: vec![],
                total: 0,
            });
        }
    }
}

#[cfg(feature = "hydrate")]
fn encode_component(text: &str) -> String {
    web_sys::js_sys::encode_uri_component(text).into()
}

/// The export's options as the download links carry them.
#[component]
fn ExportCard() -> impl IntoView {
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let source = RwSignal::new(String::new());
    let ties = RwSignal::new(false);
    let split_seed = RwSignal::new(String::new());
    let test_ratio = RwSignal::new("0.1".to_string());
    let pseudonym_seed = RwSignal::new(String::new());
    let parquet = RwSignal::new(false);
    let query = move || {
        let mut query = String::new();
        let mut add = |key: &str, value: String| {
            if !value.trim().is_empty() {
                query.push_str(&format!("&{key}={}", value.trim().replace('&', "%26").replace(' ', "%20")));
            }
        };
        add("from", from.get());
        add("to", to.get());
        add("status", status.get());
        add("source", source.get());
        if ties.get() {
            add("ties", "true".into());
        }
        let seed = split_seed.get();
        if !seed.trim().is_empty() {
            add("split_seed", seed);
            add("test_ratio", test_ratio.get());
        }
        add("pseudonym_seed", pseudonym_seed.get());
        if parquet.get() {
            add("file", "parquet".into());
        }
        query
    };
    let split = move || !split_seed.get().trim().is_empty();
    view! {
        <section class="card">
            <h2>"Export"</h2>
            <p class="muted">
                "Each file downloads as it is written (your browser shows its progress). With a split seed, "
                "each conversation goes wholly to train or to test; the manifest lists every file's rows and SHA-256. "
                "Parquet files hold the same columns as the JSON lines (SFT, preference, K-wise and KTO sets)."
            </p>
            <form class="inline filters" on:submit=|ev| ev.prevent_default()>
                <label class="inline">"From" <input type="date" name="from" on:change=move |ev| from.set(event_target_value(&ev)) /></label>
                <label class="inline">"To" <input type="date" name="to" on:change=move |ev| to.set(event_target_value(&ev)) /></label>
                <label class="inline">
                    "Demonstrations"
                    <select name="status" on:change=move |ev| status.set(event_target_value(&ev))>
                        <option value="">"Submitted and accepted"</option>
                        <option value="accepted">"Accepted only"</option>
                    </select>
                </label>
                <label class="inline">"Source" <input type="text" name="source" placeholder="parley, or an import's" on:change=move |ev| source.set(event_target_value(&ev)) /></label>
                <label class="inline"><input type="checkbox" name="ties" on:change=move |ev| ties.set(event_target_checked(&ev)) />" Ties as pairs of margin 0"</label>
                <label class="inline">"Split seed" <input type="number" name="split_seed" min="0" on:input=move |ev| split_seed.set(event_target_value(&ev)) /></label>
                <label class="inline">"Test share" <input type="number" name="test_ratio" min="0" max="1" step="0.05" value="0.1" on:input=move |ev| test_ratio.set(event_target_value(&ev)) /></label>
                <label class="inline">"Pseudonym seed" <input type="number" name="pseudonym_seed" min="0" on:input=move |ev| pseudonym_seed.set(event_target_value(&ev)) /></label>
                <label class="inline">
                    "File type"
                    <select name="file" on:change=move |ev| parquet.set(event_target_value(&ev) == "parquet")>
                        <option value="jsonl">"JSON lines"</option>
                        <option value="parquet">"Parquet"</option>
                    </select>
                </label>
            </form>
            <table data-testid="export-formats">
                <tbody>
                    {ExportFormat::ALL.into_iter().map(|format| view! {
                        <tr>
                            <td>{format.describe()}</td>
                            <td>
                                {move || if parquet.get() && !format.has_parquet() {
                                    view! { <span class="muted">"JSON lines only"</span> }.into_any()
                                } else if split() {
                                    view! {
                                        <a download href=format!("/api/datasets/export?format={}&part=train{}", format.as_str(), query())>"train"</a>
                                        " · "
                                        <a download href=format!("/api/datasets/export?format={}&part=test{}", format.as_str(), query())>"test"</a>
                                    }.into_any()
                                } else {
                                    view! { <a download data-testid=format!("export-{}", format.as_str()) href=format!("/api/datasets/export?format={}{}", format.as_str(), query())>"Download"</a> }.into_any()
                                }}
                            </td>
                        </tr>
                    }).collect_view()}
                    <tr>
                        <td>"Manifest (counts, options, SHA-256 of each file)"</td>
                        <td><a download data-testid="export-manifest" href=move || format!("/api/datasets/export?format=manifest{}", query())>"Download"</a></td>
                    </tr>
                </tbody>
            </table>
        </section>
    }
}
