use crate::validate::password_problem;
use leptos::prelude::*;

/// A new-password input that says, as the user types, whether the server will accept it.
#[component]
pub fn PasswordField(#[prop(into)] email: Signal<String>) -> impl IntoView {
    let (password, set_password) = signal(String::new());
    let hint = move || match password_problem(&password.get(), &email.get()) {
        Some(problem) => problem.message,
        None => "strong enough".to_string(),
    };
    let ok = move || password_problem(&password.get(), &email.get()).is_none();
    view! {
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
        <p class="hint" class:ok=ok data-testid="password-hint">{hint}</p>
    }
}
