//! Review: a reviewer takes the next queued demonstration, reads its turns, and accepts it,
//! rejects it with a reason the author will read, or edits turns and accepts the edit (a
//! revision of the reviewer's own). Admins set which share of submissions is queued.

use crate::api::review::{SetReviewPolicy, SubmitReview, get_review_policy, next_review};
use crate::app::Session;
use crate::components::error_line::ErrorLine;
use crate::components::markdown::Markdown;
use crate::domain::Role;
use crate::review::{ReviewItem, TurnEdit};
use leptos::prelude::*;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Demonstrations and doubtful rankings, the two queues of Review.
#[component]
pub fn ReviewTabs() -> impl IntoView {
    use leptos_router::components::A;
    view! {
        <nav class="tabs" aria-label="Review">
            <A href="/review" exact=true>"Demonstrations"</A>
            <A href="/review/rankings">"Doubtful rankings"</A>
        </nav>
    }
}

#[component]
pub fn ReviewPage() -> impl IntoView {
    let submit = ServerAction::<SubmitReview>::new();
    // The next submission is fetched after a verdict is stored, not after a refused one (the
    // reason typed stays on the page).
    let verdicts = RwSignal::new(0u32);
    Effect::new(move |_| {
        if let Some(Ok(_)) = submit.value().get() {
            verdicts.update(|n| *n += 1);
        }
    });
    let item = Resource::new(move || verdicts.get(), |_| next_review());
    view! {
        <div class="workspace">
            <section class="card review">
                <ReviewTabs />
                <h1>"Review"</h1>
                <Transition fallback=|| view! { <p>"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match item.await {
                            Ok(Some(item)) => view! { <ReviewCard item submit /> }.into_any(),
                            Ok(None) => view! {
                                <p data-testid="review-empty">
                                    "Nothing waits for review. Submissions arrive as trainers submit demonstrations that the review policy draws."
                                </p>
                            }
                            .into_any(),
                            Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
            <aside>
                <PolicyPanel />
            </aside>
        </div>
    }
}

/// One submission: its turns (each can be edited), the reason, and the verdict buttons.
#[component]
fn ReviewCard(item: ReviewItem, submit: ServerAction<SubmitReview>) -> impl IntoView {
    let request_id = StoredValue::new(Uuid::new_v4());
    let conversation_id = item.conversation.id;
    let revision = item.conversation.revision;
    let reason = RwSignal::new(String::new());
    let edits = RwSignal::new(BTreeMap::<Uuid, String>::new());
    let originals: BTreeMap<Uuid, String> =
        item.conversation.messages.iter().map(|m| (m.id, m.text.clone())).collect();
    let originals = StoredValue::new(originals);
    let changed = move || {
        edits.with(|e| {
            e.iter()
                .filter(|(id, text)| originals.with_value(|o| o.get(*id) != Some(*text)))
                .map(|(id, text)| TurnEdit { message_id: *id, text: text.clone() })
                .collect::<Vec<_>>()
        })
    };
    let send = move |verdict: &'static str| {
        let edits = if verdict == "accepted" { changed() } else { vec![] };
        submit.dispatch(SubmitReview {
            request_id: request_id.get_value(),
            conversation_id,
            revision,
            verdict: verdict.to_string(),
            reason: reason.get_untracked(),
            edits,
        });
    };
    let turns = item
        .conversation
        .messages
        .iter()
        .map(|message| {
            let id = message.id;
            let original = message.text.clone();
            let editing = RwSignal::new(false);
            let text = Signal::derive(move || {
                edits
                    .with(|e| e.get(&id).cloned())
                    .unwrap_or_else(|| originals.with_value(|o| o[&id].clone()))
            });
            let branch = (message.position > 0).then_some(" · another branch");
            view! {
                <div class=format!("turn {}", message.role.as_str()) data-testid="review-turn">
                    <div class="turn-head">
                        <strong>{message.role.as_str()}</strong>
                        <span class="muted">{branch}</span>
                        <button type="button" class="link" on:click=move |_| editing.update(|e| *e = !*e)>
                            {move || if editing.get() { "Done" } else { "Edit" }}
                        </button>
                    </div>
                    <Show when=move || editing.get() fallback=move || view! { <Markdown text /> }>
                        <textarea aria-label="Turn text" data-testid="review-edit" rows="6"
                            prop:value=move || text.get()
                            on:input=move |ev| {
                                let value = event_target_value(&ev);
                                edits.update(|e| { e.insert(id, value); });
                            }></textarea>
                    </Show>
                    <Show when={
                        let original = original.clone();
                        move || text.get() != original
                    }>
                        <p class="muted">"Edited by you"</p>
                    </Show>
                </div>
            }
        })
        .collect_view();
    let earlier = item
        .earlier
        .iter()
        .map(|r| {
            view! {
                <li>
                    <span class=format!("status {}", r.verdict.as_str())>{r.verdict.as_str()}</span>
                    {format!(" by {} · revision {} · {}", r.reviewer_email, r.revision, r.reason)}
                </li>
            }
        })
        .collect_view();
    let has_earlier = !item.earlier.is_empty();
    view! {
        <div data-testid="review-item" data-conversation=conversation_id.to_string()>
            <p class="muted" data-testid="review-waiting">
                {format!("{} waiting · by {} · revision {} · queued as {}", item.waiting, item.author_email, revision, item.queued_because)}
            </p>
            {item.conversation.system_prompt.clone().map(|p| view! { <p class="muted">"System: " {p}</p> })}
            <div class="turns">{turns}</div>
            <Show when=move || has_earlier>
                <h2>"Earlier verdicts"</h2>
            </Show>
            <ul class="plain">{earlier}</ul>
            <label>
                "Reason (the author reads it; needed to reject)"
                <textarea name="reason" rows="3" maxlength="2000"
                    prop:value=move || reason.get()
                    on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
            </label>
            <div class="actions">
                <button type="button" class="primary" disabled=move || submit.pending().get()
                    on:click=move |_| send("accepted")>
                    {move || if changed().is_empty() { "Accept" } else { "Accept with my edits" }}
                </button>
                <button type="button" class="danger" disabled=move || submit.pending().get()
                    on:click=move |_| send("rejected")>"Reject"</button>
            </div>
            <ErrorLine value=submit.value() />
        </div>
    }
}

/// Which submissions are reviewed; admins change it here.
#[component]
fn PolicyPanel() -> impl IntoView {
    let session = expect_context::<Session>();
    let save = ServerAction::<SetReviewPolicy>::new();
    let policy = Resource::new(move || save.version().get(), |_| get_review_policy());
    view! {
        <section class="card">
            <h2>"Review policy"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let admin = matches!(session.user.await, Ok(Some(u)) if u.role.allows(Role::Admin));
                    match policy.await {
                        Ok(p) => {
                            let line = format!(
                                "Every one of a trainer's first {} demonstrations is reviewed, then {}% of the rest, drawn at random. A demonstration submitted again after a rejection is always reviewed.",
                                p.first, p.share_percent
                            );
                            view! {
                                <p data-testid="review-policy">{line}</p>
                                <Show when=move || admin>
                                    <ActionForm action=save>
                                        <label>"Review all of the first" <input type="number" name="first" min="0" value=p.first.to_string() /></label>
                                        <label>"Then review this share (%)" <input type="number" name="share_percent" min="0" max="100" step="any" value=p.share_percent.to_string() /></label>
                                        <button type="submit">"Save policy"</button>
                                    </ActionForm>
                                    <ErrorLine value=save.value() />
                                </Show>
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
