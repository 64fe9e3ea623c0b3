//! The `<option>`s of a filter by name (a category, say): "All" first, then each name a
//! resource loads.

use crate::error::ApiError;
use leptos::prelude::*;

#[component]
pub fn NameOptions(names: Resource<Result<Vec<String>, ApiError>>) -> impl IntoView {
    view! {
        <option value="">"All"</option>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                names.await.unwrap_or_default().into_iter()
                    .map(|name| view! { <option value=name.clone()>{name.clone()}</option> })
                    .collect_view()
            })}
        </Transition>
    }
}
