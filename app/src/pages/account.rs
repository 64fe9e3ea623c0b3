//! Account: the signed-in user's own e-mail and role, and their password, changed with the
//! current one. After an admin set a one-time password, every page leads here first.

use crate::api::auth::ChangePassword;
use crate::app::Session;
use crate::components::error_line::ErrorLine;
use crate::validate::password_problem;
use leptos::prelude::*;

#[component]
pub fn AccountPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let change = ServerAction::<ChangePassword>::new();
    let (new_password, set_new_password) = signal(String::new());
    let who = move || {
        Suspend::new(async move {
            match session.user.await {
                Ok(Some(user)) => {
                    let one_time = user.must_change_password.then(|| {
                        view! {
                            <p class="notice" data-testid="one-time">
                                "Your password was set by an admin for one use. Choose your own to go on."
                            </p>
                        }
                    });
                    let email = user.email.clone();
                    let hint = move || {
                        password_problem(&new_password.get(), &email)
                            .map_or_else(|| "strong enough".to_string(), |p| p.message)
                    };
                    view! {
                        <p>{format!("Signed in as {} ({})", user.email, user.role)}</p>
                        {one_time}
                        <ActionForm action=change>
                            <input type="email" autocomplete="username" value=user.email.clone() hidden=true />
                            <label>
                                "Current password"
                                <input type="password" name="current_password" autocomplete="current-password" required />
                            </label>
                            <label>
                                "New password"
                                <input type="password" name="new_password" autocomplete="new-password" required
                                    on:input:target=move |ev| set_new_password.set(ev.target().value()) />
                            </label>
                            <p class="hint" data-testid="password-hint">{hint}</p>
                            <button type="submit" disabled=move || change.pending().get()>"Change password"</button>
                        </ActionForm>
                    }
                    .into_any()
                }
                _ => view! { <p><a href="/login">"Sign in"</a></p> }.into_any(),
            }
        })
    };
    let changed = move || {
        matches!(change.value().get(), Some(Ok(()))).then(|| {
            view! {
                <p class="ok" role="status" data-testid="password-changed">
                    "Password changed; your other sessions are signed out. "
                    <a href="/" rel="external">"Go to the start page"</a>
                </p>
            }
        })
    };
    view! {
        <section class="card narrow">
            <h1>"Account"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>{who}</Transition>
            {changed}
            <ErrorLine value=change.value() />
        </section>
    }
}
