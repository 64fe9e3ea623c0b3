use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        options.set_status(http::StatusCode::NOT_FOUND);
    }
    crate::app::mark_hydrated();
    view! {
        <section class="card">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the start page"</a></p>
        </section>
    }
}
