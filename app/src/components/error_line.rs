use crate::error::ApiError;
use leptos::prelude::*;

/// The error message of an action's last result, or nothing.
#[component]
pub fn ErrorLine<T, S>(value: S) -> impl IntoView
where
    S: With<Value = Option<Result<T, ApiError>>> + Copy + Send + Sync + 'static,
    T: 'static,
{
    let message = move || {
        value.with(|result| match result {
            Some(Err(err)) => Some(err.message.clone()),
            _ => None,
        })
    };
    view! {
        <Show when=move || message().is_some()>
            <p class="error" role="alert">{message}</p>
        </Show>
    }
}
