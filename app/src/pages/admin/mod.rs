//! The Admin area: accounts, the model, API keys and guidelines, each a page under /admin.

mod accounts;
mod api_keys;
mod comparisons;
mod filter;
mod guidelines;
mod model;
pub(crate) mod reward;

pub use accounts::AdminPage;
pub use api_keys::ApiKeysPage;
pub use comparisons::ComparisonsPage;
pub use filter::FilterPage;
pub use guidelines::GuidelinesPage;
pub use model::ModelPage;
pub use reward::RewardPage;

use leptos::prelude::*;
use leptos_router::components::A;

/// The Admin area's own navigation.
#[component]
pub fn AdminTabs() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Admin">
            <A href="/admin" exact=true>"Accounts"</A>
            <A href="/admin/model">"Model"</A>
            <A href="/admin/keys">"API keys"</A>
            <A href="/admin/guidelines">"Guidelines"</A>
            <A href="/admin/comparisons">"Comparisons"</A>
            <A href="/admin/filter">"Content filter"</A>
            <A href="/admin/reward">"Reward model"</A>
        </nav>
    }
}

/// "2026-11-26T06:58:19.354560Z" as "2026-11-26 06:58 UTC".
pub fn short_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(minute)) => format!("{day} {minute} UTC"),
        _ => rfc3339.to_string(),
    }
}
