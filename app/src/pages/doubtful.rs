//! Review -> Doubtful rankings: the rankings that the latest reward model and the other
//! trainers of the same comparison both order the other way, each with the prompt, the
//! replies in the ranker's order, the other trainers' places and the model's scores. A
//! reviewer lets it stand or sets it aside (left out of exports, agreement and training).

use super::review::ReviewTabs;
use crate::api::review::{JudgeRanking, MAX_NOTE_CHARS, doubtful_rankings};
use crate::components::error_line::ErrorLine;
use crate::components::markdown::Markdown;
use crate::review::DoubtItem;
use leptos::prelude::*;
use uuid::Uuid;

fn percent(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

#[component]
pub fn DoubtfulRankingsPage() -> impl IntoView {
    let judge = ServerAction::<JudgeRanking>::new();
    let queue = Resource::new(move || judge.version().get(), |_| doubtful_rankings());
    view! {
        <section class="card review">
            <ReviewTabs />
            <h1>"Doubtful rankings"</h1>
            <ErrorLine value=judge.value() />
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match queue.await {
                        Ok(q) if q.run_id.is_none() => view! {
                            <p data-testid="doubt-summary">"No reward model has been trained yet: an admin trains one on Admin -> Reward model, and the rankings it and the other trainers both disagree with wait here."</p>
                        }
                        .into_any(),
                        Ok(q) => {
                            let summary = format!(
                                "From the reward model of {} (held-out accuracy {}): {} doubtful, {} settled, {} waiting. A ranking is doubtful when the model, trained without its comparison, gives the ranker's order {} chance or less on average and the other trainers order {} or less of its pairs the same way.",
                                q.run_finished_at.as_deref().map(crate::pages::short_time).unwrap_or_default(),
                                q.accuracy.map(percent).unwrap_or_else(|| "–".into()),
                                q.found, q.settled, q.found.saturating_sub(q.settled),
                                percent(q.threshold), percent(q.threshold),
                            );
                            let empty = q.items.is_empty();
                            let items = q.items.into_iter().map(|item| view! { <DoubtCard item judge /> }).collect_view();
                            view! {
                                <p class="muted" data-testid="doubt-summary">{summary}</p>
                                <Show when=move || empty>
                                    <p data-testid="doubts-empty">"Nothing waits for you here."</p>
                                </Show>
                                {items}
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

#[component]
fn DoubtCard(item: DoubtItem, judge: ServerAction<JudgeRanking>) -> impl IntoView {
    let request_id = StoredValue::new(Uuid::new_v4());
    let ranking_id = item.doubt.ranking_id;
    let note = RwSignal::new(String::new());
    let send = move |verdict: &'static str| {
        judge.dispatch(JudgeRanking {
            request_id: request_id.get_value(),
            ranking_id,
            verdict: verdict.to_string(),
            note: note.get_untracked(),
        });
    };
    let d = &item.doubt;
    let line = format!(
        "Ranked by {} · the reward model gives this order {} · the {} other trainer{} ordered {} of its pairs the same way",
        d.trainer,
        percent(d.model_agreement),
        d.others,
        if d.others == 1 { "" } else { "s" },
        percent(d.others_agreement),
    );
    let prompt = item
        .prompt
        .iter()
        .map(|m| {
            let text = m.content.clone();
            view! {
                <li class="turn" data-role=m.role.clone()>
                    <strong>{m.role.clone()}</strong>
                    <Markdown text=Signal::derive(move || text.clone()) />
                </li>
            }
        })
        .collect_view();
    let replies = item
        .replies
        .iter()
        .map(|r| {
            let text = r.text.clone();
            let others = r.others.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
            let score = r.score.map_or_else(|| "–".to_string(), |s| format!("{s:.2}"));
            view! {
                <li class="turn" data-testid="doubt-reply">
                    <div class="turn-head">
                        <strong>{format!("Place {}", r.place)}</strong>
                        <span class="muted">{format!(" · others: {} · model score {score}", if others.is_empty() { "–".to_string() } else { others })}</span>
                    </div>
                    <Markdown text=Signal::derive(move || text.clone()) />
                </li>
            }
        })
        .collect_view();
    view! {
        <article class="doubt" data-testid="doubt" data-ranking=ranking_id.to_string()>
            <p class="muted" data-testid="doubt-line">{line}</p>
            <ol class="turns">{prompt}</ol>
            <h3>"Replies, in this ranking's order"</h3>
            <ol class="turns">{replies}</ol>
            <label>
                "Note (optional)"
                <textarea rows="2" maxlength=MAX_NOTE_CHARS.to_string()
                    prop:value=move || note.get()
                    on:input=move |ev| note.set(event_target_value(&ev))></textarea>
            </label>
            <div class="actions">
                <button type="button" disabled=move || judge.pending().get() on:click=move |_| send("stands")>
                    "The ranking stands"
                </button>
                <button type="button" class="danger" disabled=move || judge.pending().get() on:click=move |_| send("set_aside")>
                    "Set it aside"
                </button>
            </div>
        </article>
    }
}
