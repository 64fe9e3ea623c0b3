use crate::api::guidelines::get_guidelines;
use crate::components::markdown::Markdown;
use leptos::prelude::*;

/// The admins' guidelines for an area, beside the editor; collapsible, open at first.
#[component]
pub fn GuidelinesPanel(area: &'static str) -> impl IntoView {
    let guidelines = Resource::new(|| (), move |_| get_guidelines(area.to_string()));
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match guidelines.await {
                    Ok(Some(g)) if !g.markdown.trim().is_empty() => view! {
                        <details class="guidelines card" open>
                            <summary>"Guidelines"</summary>
                            <Markdown text=g.markdown />
                        </details>
                    }
                    .into_any(),
                    _ => ().into_any(),
                }
            })}
        </Transition>
    }
}
