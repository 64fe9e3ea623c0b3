use super::AdminTabs;
use crate::api::guidelines::{SaveGuidelines, get_guidelines};
use crate::components::error_line::ErrorLine;
use crate::components::markdown::Markdown;
use crate::domain::GUIDELINE_AREAS;
use leptos::prelude::*;

/// Admins write the guidelines trainers see beside the editor, in Markdown, with a preview.
#[component]
pub fn GuidelinesPage() -> impl IntoView {
    let areas = GUIDELINE_AREAS.iter().map(|area| view! { <AreaGuidelines area /> }).collect_view();
    view! {
        <AdminTabs />
        {areas}
    }
}

#[component]
fn AreaGuidelines(area: &'static str) -> impl IntoView {
    let save = ServerAction::<SaveGuidelines>::new();
    let stored = Resource::new(|| (), move |_| get_guidelines(area.to_string()));
    let text = RwSignal::new(None::<String>);
    let title = match area {
        "write" => "Guidelines for writing demonstrations",
        "rank" => "Guidelines for ranking",
        _ => "Guidelines for chats",
    };
    view! {
        <section class="card">
            <h2>{title}</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let markdown = stored.await.ok().flatten().map(|g| g.markdown).unwrap_or_default();
                    if text.get_untracked().is_none() {
                        text.set(Some(markdown.clone()));
                    }
                    view! {
                        <ActionForm action=save>
                            <input type="hidden" name="area" value=area />
                            <label>
                                "Markdown"
                                <textarea name="markdown" rows="10" aria-label=format!("{area} guidelines")
                                    on:input=move |ev| text.set(Some(event_target_value(&ev)))
                                    inner_html=crate::markdown::escape_text(&markdown)></textarea>
                            </label>
                            <button type="submit" disabled=move || save.pending().get()>"Save guidelines"</button>
                        </ActionForm>
                    }
                })}
            </Transition>
            <p class="ok" hidden=move || !matches!(save.value().get(), Some(Ok(_)))>"Saved."</p>
            <ErrorLine value=save.value() />
            <details>
                <summary>"Preview"</summary>
                <Markdown text=Signal::derive(move || text.get().unwrap_or_default()) />
            </details>
        </section>
    }
}
