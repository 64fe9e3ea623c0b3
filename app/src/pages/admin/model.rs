use super::AdminTabs;
use crate::api::model::model_status;
use crate::components::generation_stream::{self, Outputs};
use crate::model::{MAX_ALTERNATIVES, ModelInfo, SamplingParams};
use leptos::prelude::*;

/// The model this server runs: what it is, whether it is ready, and a place to try it with
/// K alternatives streaming side by side.
#[component]
pub fn ModelPage() -> impl IntoView {
    let status = Resource::new(|| (), |_| model_status());
    view! {
        <AdminTabs />
        <section class="card">
            <h1>"Model"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(Some(info)) => view! { <ModelCard info /> }.into_any(),
                        Ok(None) => view! {
                            <p class="notice" data-testid="no-model">
                                "No model is loaded. Run " <code>"scripts/fetch-model.sh"</code>
                                " and restart, or start Parley with " <code>"--model PATH"</code>
                                " or " <code>"--engine-url URL"</code> "."
                            </p>
                        }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <TryModel />
    }
}

#[component]
fn ModelCard(info: ModelInfo) -> impl IntoView {
    let defaults = SamplingParams::default();
    view! {
        <dl class="facts" data-testid="model">
            <dt>"Name"</dt><dd>{info.name}</dd>
            <dt>"Source"</dt><dd><code>{info.source}</code></dd>
            <dt>"SHA-256"</dt><dd><code>{info.sha256.unwrap_or_else(|| "not known (remote engine)".into())}</code></dd>
            <dt>"Status"</dt><dd data-testid="model-ready">{if info.ready { "ready" } else { "warming up" }}</dd>
            <dt>"Default sampling"</dt>
            <dd>{format!(
                "temperature {}, top-p {}, top-k {}, up to {} tokens",
                defaults.temperature, defaults.top_p, defaults.top_k, defaults.max_tokens
            )}</dd>
        </dl>
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
        let finished = outputs.finished.get();
        outputs
            .texts
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                let ended = finished.get(i).cloned().flatten();
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
            <h2>"Try it"</h2>
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
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
