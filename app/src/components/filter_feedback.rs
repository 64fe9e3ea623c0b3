//! What the content filter decided about a message, and the reader's word on it: "not
//! unsafe" on a flag (a false positive), "should have been flagged" on a text that passed
//! (a false negative), each with a category.

use crate::api::filter::{GiveFilterFeedback, filter_categories};
use crate::components::error_line::ErrorLine;
use crate::filter::{Action, FilterFeedback, FilterFeedbackKind, Verdict};
use leptos::prelude::*;
use uuid::Uuid;

/// The badge or notice for a message the filter flagged; nothing for one that passed.
pub fn verdict_notice(verdict: Option<&Verdict>, from_model: bool) -> Option<AnyView> {
    let verdict = verdict?;
    let categories = verdict.categories.join(", ");
    let view = match (verdict.action?, from_model) {
        (Action::Block, false) => view! {
            <p class="filter-notice" data-testid="filter-notice">
                {format!("Blocked by the content filter ({categories}): not sent to the model.")}
            </p>
        }
        .into_any(),
        (Action::Block, true) => view! {
            <p class="filter-notice" data-testid="filter-notice">
                {format!("Hidden by the content filter ({categories}).")}
            </p>
        }
        .into_any(),
        (Action::Warn, _) => {
            view! { <span class="badge warn" data-testid="filter-badge">{format!("Flagged: {categories}")}</span> }
                .into_any()
        }
    };
    Some(view)
}

#[component]
pub fn FilterFeedbackBar(
    conversation_id: Uuid,
    message_id: Uuid,
    verdict: Option<Verdict>,
    given: Option<FilterFeedback>,
) -> impl IntoView {
    let send = ServerAction::<GiveFilterFeedback>::new();
    let flagged: Vec<String> =
        verdict.filter(|v| v.action.is_some()).map(|v| v.categories).unwrap_or_default();
    let kind = if flagged.is_empty() {
        FilterFeedbackKind::FalseNegative
    } else {
        FilterFeedbackKind::FalsePositive
    };
    let open = RwSignal::new(false);
    let category = RwSignal::new(flagged.first().cloned().unwrap_or_default());
    let done = RwSignal::new(given.map(|g| g.category));
    Effect::new(move |_| {
        if let Some(Ok(saved)) = send.value().get() {
            done.set(Some(saved.category));
            open.set(false);
        }
    });
    let label = match kind {
        FilterFeedbackKind::FalsePositive => "Not unsafe",
        FilterFeedbackKind::FalseNegative => "Should have been flagged",
    };
    let categories = LocalResource::new(move || async move {
        if open.get() { filter_categories().await.unwrap_or_default() } else { vec![] }
    });
    let flagged_choices = StoredValue::new(flagged.clone());
    let choices = move || {
        let flagged = flagged_choices.get_value();
        if !flagged.is_empty() {
            return flagged;
        }
        // Loaded in the browser only when the reader opens the choice.
        categories.get().unwrap_or_default()
    };
    let dispatch = move || {
        send.dispatch(GiveFilterFeedback {
            conversation_id,
            message_id,
            kind,
            category: category.get_untracked(),
            note: String::new(),
        });
    };
    view! {
        <span class="filter-feedback" data-testid="filter-feedback">
            {move || match done.get() {
                Some(category) => view! {
                    <span class="muted small" data-testid="filter-feedback-state">
                        {match kind {
                            FilterFeedbackKind::FalsePositive => format!("You said this is not unsafe ({category})"),
                            FilterFeedbackKind::FalseNegative => format!("You said this should be flagged ({category})"),
                        }}
                    </span>
                }
                .into_any(),
                None => view! {
                    <button type="button" class="link" on:click=move |_| open.set(true)>{label}</button>
                }
                .into_any(),
            }}
            <Show when=move || open.get()>
                <label class="inline">
                    "Category"
                    <select on:change=move |ev| category.set(event_target_value(&ev))>
                        <option value="" disabled=true selected=move || category.get().is_empty()>"Choose…"</option>
                        {move || choices().into_iter().map(|c| {
                            let selected = category.get_untracked() == c;
                            view! { <option value=c.clone() selected=selected>{c.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <button type="button" disabled=move || category.get().is_empty() || send.pending().get()
                    on:click=move |_| dispatch()>"Send"</button>
            </Show>
            <ErrorLine value=send.value() />
        </span>
    }
}
