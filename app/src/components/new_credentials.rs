use crate::validate::password_problem;
use leptos::prelude::*;

/// E-mail and new-password inputs for a form that makes an account. The hint under the
/// password says, as the user types, whether the server will accept it.
#[component]
pub fn NewCredentials() -> impl IntoView {
    let (email, set_email) = signal(String::new());
    let (password, set_password) = signal(String::new());
    let problem = move || password_problem(&password.get(), &email.get());
    let hint = move || problem().map_or_else(|| "strong enough".to_string(), |p| p.message);
    view! {
        <label>
            "E-mail"
            <input
                type="email"
                name="email"
                autocomplete="username"
                required
                on:input:target=move |ev| set_email.set(ev.target().value())
            />
        </label>
        <label>
            "Password"
            <input
                type="password"
                name="password"
                autocomplete="new-password"
                required
                on:input:target=move |ev| set_password.set(ev.target().value())
            />
        </label>
        <p class="hint" class:ok=move || problem().is_none() data-testid="password-hint">{hint}</p>
    }
}
