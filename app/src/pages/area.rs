use crate::domain::Area;
use leptos::prelude::*;

/// An area of the studio whose tools arrive in later releases. The server's page guard
/// has already checked the role before this renders.
#[component]
pub fn AreaPage(area: &'static Area) -> impl IntoView {
    view! {
        <section class="card">
            <h1>{area.label}</h1>
            <p class="muted">
                {format!("The {} tools are not built yet. Needs the {} role.", area.label, area.needs)}
            </p>
        </section>
    }
}
