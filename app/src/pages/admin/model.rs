use super::AdminTabs;
use crate::api::model::{SetActiveModel, list_models};
use crate::components::error_line::ErrorLine;
use crate::components::generation_stream::{self, Outputs};
use crate::model::{MAX_ALTERNATIVES, ModelVersion, SamplingParams};
use leptos::prelude::*;

/// The models: every version recorded, which this server runs and whether it is ready,
/// which one is active (admins choose), and a place to try the active one with K
/// alternatives streaming side by side.
#[component]
pub fn ModelPage() -> impl IntoView {
    let set_active = ServerAction::<SetActiveModel>::new();
    let models = Resource::new(move || set_active.version().get(), |_| list_models());
    view! {
        <AdminTabs />
        <section class="card">
            <h1>"Models"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match models.await {
                        Ok(models) if models.iter().any(|m| m.served) => {
                            view! { <ModelTable models set_active /> }.into_any()
                        }
                        Ok(_) => view! {
                            <p class="notice" data-testid="no-model">
                                "No model is loaded. Run " <code>"scripts/fetch-model.sh"</code>
                                " and restart, or start Parley with " <code>"--model PATH"</code>
                                " or " <code>"--engine-url URL"</code> "."
                            </p>
                        }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            <ErrorLine value=set_active.value() />
            <p class="muted">{default_sampling()}</p>
        </section>
        <TryModel />
    }
}

fn default_sampling() -> String {
    let d = SamplingParams::default();
    format!(
        "Default sampling: temperature {}, top-p {}, top-k {}, up to {} tokens. Every model-written text records the model version, these parameters and its seed.",
        d.temperature, d.top_p, d.top_k, d.max_tokens
    )
}

#[component]
fn ModelTable(models: Vec<ModelVersion>, set_active: ServerAction<SetActiveModel>) -> impl IntoView {
    let rows = models
        .into_iter()
        .map(|m| {
            let status = match (m.served, m.ready) {
                (true, true) => "ready",
                (true, false) => "warming up",
                (false, _) => "not on this server",
            };
            let sha = m
                .sha256
                .clone()
                .map_or_else(|| "remote engine".to_string(), |s| format!("{}…", &s[..12.min(s.len())]));
            let choose = if m.active {
                view! { <strong>"active"</strong> }.into_any()
            } else if m.served {
                view! {
                    <ActionForm action=set_active attr:class="inline">
                        <input type="hidden" name="model_version_id" value=m.id.to_string() />
                        <button type="submit">"Make active"</button>
                    </ActionForm>
                }
                .into_any()
            } else {
                ().into_any()
            };
            view! {
                <tr data-active=m.active.to_string()>
                    <td>{m.name.clone()}</td>
                    <td><code title=m.sha256.clone().unwrap_or_default()>{sha}</code></td>
                    <td><code>{m.source.clone()}</code></td>
                    <td data-testid="model-status">{status}</td>
                    <td>{choose}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table data-testid="models">
            <thead><tr><th>"Name"</th><th>"SHA-256"</th><th>"Source"</th><th>"Status"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
fn TryModel() -> impl IntoView {
    let outputs = Outputs::new();
    let active = generation_stream::holder();
    let (prompt, set_prompt) = signal(String::new());
    let (n, set_n) = signal(2usize);
    let (temperature, set_temperature) = signal(0.7f64);
    let (seed, set_seed) = signal(0u64);
    let run = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let query = format!(
            "/api/generate?prompt={}&n={}&temperature={}&seed={}&max_tokens=128",
            encode(&prompt.get_untracked()),
            n.get_untracked(),
            temperature.get_untracked(),
            seed.get_untracked()
        );
        generation_stream::start(query, n.get_untracked(), outputs, active);
    };
    let columns = move || {
        outputs
            .alternatives()
            .into_iter()
            .enumerate()
            .map(|(i, (text, ended))| {
                let finished_attr = ended.clone().unwrap_or_default();
                view! {
                    <article class="alternative" data-testid="alternative" data-finished=finished_attr>
                        <h3>{format!("Alternative {}", i + 1)}</h3>
                        <p class="text">{text}</p>
                        <p class="muted">{ended.map(|reason| format!("ended: {reason}"))}</p>
                    </article>
                }
            })
            .collect_view()
    };
    view! {
        <section class="card">
            <h2>"Try the active model"</h2>
            <form on:submit=run>
                <label>
                    "Prompt"
                    <textarea
                        name="prompt"
                        rows="3"
                        required
                        on:input:target=move |ev| set_prompt.set(ev.target().value())
                    ></textarea>
                </label>
                <div class="row">
                    <label>
                        "Alternatives"
                        <input type="number" name="n" min="1" max=MAX_ALTERNATIVES.to_string() value="2"
                            on:input:target=move |ev| set_n.set(ev.target().value().parse().unwrap_or(1)) />
                    </label>
                    <label>
                        "Temperature"
                        <input type="number" name="temperature" min="0" max="2" step="0.1" value="0.7"
                            on:input:target=move |ev| set_temperature.set(ev.target().value().parse().unwrap_or(0.7)) />
                    </label>
                    <label>
                        "Seed"
                        <input type="number" name="seed" min="0" value="0"
                            on:input:target=move |ev| set_seed.set(ev.target().value().parse().unwrap_or(0)) />
                    </label>
                </div>
                <button type="submit" disabled=move || outputs.running.get()>"Generate"</button>
            </form>
            <p class="error" role="alert">{move || outputs.error.get()}</p>
            <div class="alternatives">{columns}</div>
        </section>
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
