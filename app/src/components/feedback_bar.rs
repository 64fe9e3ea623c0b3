//! Thumbs, categories and a comment on a model-written message: saved as one feedback per
//! person and message, which they can change.

use crate::api::feedback::{SaveFeedback, feedback_categories};
use crate::components::error_line::ErrorLine;
use crate::feedback::{Feedback, FeedbackTarget};
use leptos::prelude::*;
use uuid::Uuid;

/// The feedback categories, loaded once per page in the browser.
#[derive(Clone, Copy)]
pub struct FeedbackCategories(LocalResource<Vec<String>>);

impl FeedbackCategories {
    /// Call once on a page that shows feedback bars.
    pub fn provide() {
        let categories = LocalResource::new(|| async { feedback_categories().await.unwrap_or_default() });
        provide_context(FeedbackCategories(categories));
    }
}

/// `conversation_id` names the conversation of a message or suggestion.
#[component]
pub fn FeedbackBar(
    target: FeedbackTarget,
    #[prop(optional)] conversation_id: Option<Uuid>,
    initial: Option<Feedback>,
    /// What the good and bad buttons call the text ("reply", "suggestion", "completion").
    #[prop(default = "reply")]
    noun: &'static str,
    /// More to offer among the details (the content filter's "should have been flagged").
    #[prop(default = None)]
    extra: Option<ChildrenFn>,
) -> impl IntoView {
    let save = ServerAction::<SaveFeedback>::new();
    let thumbs = RwSignal::new(initial.as_ref().and_then(|f| f.thumbs));
    let chosen = RwSignal::new(initial.as_ref().map(|f| f.categories.clone()).unwrap_or_default());
    let text = RwSignal::new(initial.as_ref().map(|f| f.text.clone()).unwrap_or_default());
    let open = RwSignal::new(false);
    let categories = use_context::<FeedbackCategories>();
    let send = move || {
        save.dispatch(SaveFeedback {
            target_kind: target.kind().to_string(),
            target_id: target.key(),
            conversation_id,
            thumbs: thumbs.get_untracked(),
            categories: chosen.get_untracked(),
            text: text.get_untracked(),
        });
    };
    let thumb = move |value: i64| {
        thumbs.update(|t| *t = if *t == Some(value) { None } else { Some(value) });
        if thumbs.get_untracked() == Some(-1) {
            open.set(true);
        }
        send();
    };
    let state = move || match save.value().get() {
        Some(Ok(_)) => "Feedback saved",
        _ if save.pending().get() => "Saving…",
        _ => "",
    };
    let boxes = move || {
        let names = categories.and_then(|c| c.0.get()).unwrap_or_default();
        names
            .into_iter()
            .map(|name| {
                let checked = {
                    let name = name.clone();
                    move || chosen.with(|c| c.contains(&name))
                };
                let toggled = name.clone();
                view! {
                    <label class="inline">
                        <input type="checkbox" prop:checked=checked
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                chosen.update(|c| {
                                    c.retain(|n| *n != toggled);
                                    if on {
                                        c.push(toggled.clone());
                                    }
                                });
                            } />
                        {name}
                    </label>
                }
            })
            .collect_view()
    };
    view! {
        <div class="feedback" data-testid="feedback">
            <button type="button" class="thumb" aria-label=format!("Good {noun}")
                aria-pressed=move || (thumbs.get() == Some(1)).to_string() on:click=move |_| thumb(1)>
                <ThumbIcon down=false />
            </button>
            <button type="button" class="thumb" aria-label=format!("Bad {noun}")
                aria-pressed=move || (thumbs.get() == Some(-1)).to_string() on:click=move |_| thumb(-1)>
                <ThumbIcon down=true />
            </button>
            <button type="button" class="link" aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)>
                {move || if open.get() { "Hide details" } else { "Add details" }}
            </button>
            <span class="muted small" data-testid="feedback-state">{state}</span>
            <Show when=move || open.get()>
                <div class="feedback-details">
                    <fieldset>
                        <legend>"What was wrong?"</legend>
                        {boxes}
                    </fieldset>
                    <label>
                        "Comment"
                        <textarea rows="2" prop:value=move || text.get()
                            on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                    </label>
                    <button type="button" disabled=move || save.pending().get() on:click=move |_| send()>
                        "Save feedback"
                    </button>
                    {extra.clone().map(|extra| view! { <div class="feedback-extra">{extra()}</div> })}
                </div>
            </Show>
            <ErrorLine value=save.value() />
        </div>
    }
}

/// A thumb drawn in SVG (shipped with the page: no emoji font is needed), up or down.
#[component]
fn ThumbIcon(down: bool) -> impl IntoView {
    let turn = if down { "rotate(180 12 12)" } else { "" };
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
            <g transform=turn fill="currentColor">
                <rect x="2" y="10" width="4" height="11" rx="1" />
                <path d="M8 10.5 12.2 3.6c.3-.5.9-.7 1.4-.5 1 .4 1.6 1.5 1.4 2.6L14.3 10H19.5a2 2 0 0 1 2 2.3l-1.3 7a2 2 0 0 1-2 1.7H8z" />
            </g>
        </svg>
    }
}
