use leptos::prelude::*;

/// A text rendered as Markdown (lists, code blocks, tables); raw HTML in it shows as text.
#[component]
pub fn Markdown(#[prop(into)] text: Signal<String>) -> impl IntoView {
    view! { <div class="markdown" inner_html=move || crate::markdown::to_html(&text.get())></div> }
}
