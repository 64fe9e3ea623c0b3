use super::AdminTabs;
use crate::api::rank::{CreateBatch, list_batches};
use crate::comparison::{BatchSettings, MAX_BATCH, MAX_OVERLAP, POOL_FACTOR};
use crate::components::error_line::ErrorLine;
use crate::components::ticks::ticks;
use crate::ranking::{MAX_COMPLETIONS, MIN_COMPLETIONS};
use leptos::prelude::*;
use std::time::Duration;

/// Admins create batches of comparisons and watch them fill: the background sampler writes
/// each comparison's completions, then trainers rank them.
#[component]
pub fn ComparisonsPage() -> impl IntoView {
    let create = ServerAction::<CreateBatch>::new();
    // The list follows the sampler while this page is open.
    let tick = ticks(Duration::from_secs(2));
    let batches = Resource::new(move || (create.version().get(), tick.get()), |_| list_batches());
    let request_id = RwSignal::new(uuid::Uuid::new_v4().to_string());
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            request_id.set(uuid::Uuid::new_v4().to_string());
        }
    });
    let defaults = BatchSettings::default();
    view! {
        <AdminTabs />
        <section class="card">
            <h2>"New batch of comparisons"</h2>
            <p class="muted">
                "Draws model-written chat replies at random (with the seed, recorded), samples K "
                "completions of each one's context in the background, and queues each comparison "
                "for as many rankings as the overlap asks, from different trainers. Or draws imported "
                "prompts that no comparison has used yet, and samples all K replies to each."
            </p>
            <p class="muted">
                "Drawn by uncertainty, a batch samples "{POOL_FACTOR}" times as many at random, the latest "
                "reward model (Admin → Reward model) scores each one's completions, and only those whose "
                "order it is least sure of are ranked; the others are kept but passed over."
            </p>
            <ActionForm action=create>
                <input type="hidden" name="request_id" prop:value=move || request_id.get() />
                <div class="row">
                    <label>"Replies to draw" <input type="number" name="size" min="1" max=MAX_BATCH value=defaults.size /></label>
                    <label>"K (completions)" <input type="number" name="k" min=MIN_COMPLETIONS max=MAX_COMPLETIONS value=defaults.k /></label>
                    <label>"Rankings each (overlap)" <input type="number" name="overlap" min="1" max=MAX_OVERLAP value=defaults.overlap /></label>
                </div>
                <div class="row">
                    <label>"Temperature" <input type="number" name="temperature" min="0" max="2" step="0.1" value=defaults.temperature /></label>
                    <label>"Max tokens" <input type="number" name="max_tokens" min="1" max="2048" value=defaults.max_tokens /></label>
                    <label>"Seed (empty: a new one)" <input type="text" name="seed" inputmode="numeric" /></label>
                </div>
                <label class="inline">
                    <input type="checkbox" name="from_prompts" value="true" checked=defaults.from_prompts />
                    "Draw imported prompts instead of chat replies (all K sampled)"
                </label>
                <label class="inline">
                    <input type="checkbox" name="by_uncertainty" value="true" />
                    {format!("Draw by the reward model's uncertainty (samples {POOL_FACTOR}x the replies, ranks those it is least sure of)")}
                </label>
                <label class="inline">
                    <input type="checkbox" name="include_original" value="true" checked=defaults.include_original />
                    "The drawn reply is one of the K (chat replies only; the others then get its token budget, so length does not give it away)"
                </label>
                <label class="inline">
                    <input type="checkbox" name="allow_own" value="true" checked=defaults.allow_own />
                    "Trainers may rank replies from their own chats"
                </label>
                <button type="submit" disabled=move || create.pending().get()>"Create batch"</button>
            </ActionForm>
            <ErrorLine value=create.value() />
        </section>
        <section class="card">
            <h2>"Batches"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match batches.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No batch yet."</p> }.into_any(),
                        Ok(list) => {
                            let rows = list
                                .into_iter()
                                .map(|b| {
                                    let done = b.ready + b.failed + b.scored + b.passed;
                                    let sampled = format!("{done} of {}", b.comparisons);
                                    // An import's rankings were drawn elsewhere.
                                    let selection = match b.uncertainty {
                                        None if b.imported.is_some() => String::new(),
                                        None => "at random".to_string(),
                                        Some(u) => {
                                            let run = &u.reward_run_id.to_string()[..8];
                                            if b.pending + b.scored > 0 {
                                                format!("by uncertainty (reward model {run}): the {} least sure of {} will be ranked", u.keep, b.comparisons)
                                            } else {
                                                format!("by uncertainty (reward model {run}): {} ranked, {} passed over", b.ready, b.passed)
                                            }
                                        }
                                    };
                                    let failed = (b.failed > 0).then(|| {
                                        view! { <span class="error">{format!(" · {} failed: {}", b.failed, b.error.clone().unwrap_or_default())}</span> }
                                    });
                                    view! {
                                        <tr data-testid="batch">
                                            <td class="muted">{crate::pages::short_time(&b.created_at)}</td>
                                            <td data-testid="drawn">{match (&b.imported, b.from_prompts) {
                                                (Some(source), _) => format!("ranked in the import of {source}"),
                                                (None, true) => "imported prompts".to_string(),
                                                (None, false) => "chat replies".to_string(),
                                            }}
                                                {(!selection.is_empty()).then(|| view! {
                                                    <br /> <span class="muted" data-testid="selection">{selection}</span>
                                                })}
                                            </td>
                                            <td>{b.k}</td>
                                            <td>{b.overlap}</td>
                                            <td><code>{if b.imported.is_some() { "–".to_string() } else { b.seed.clone() }}</code></td>
                                            <td>
                                                <progress max=b.comparisons value=done></progress>
                                                " " <span data-testid="sampled">{sampled}</span> {failed}
                                            </td>
                                            <td>
                                                <progress max=b.rankings_wanted value=b.rankings_done></progress>
                                                " " <span data-testid="ranked">{format!("{} of {}", b.rankings_done, b.rankings_wanted)}</span>
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <table data-testid="batches">
                                    <thead><tr><th>"Created"</th><th>"Drawn from"</th><th>"K"</th><th>"Overlap"</th><th>"Seed"</th><th>"Sampled"</th><th>"Ranked"</th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }
                            .into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
