use crate::api::auth::needs_first_admin;
use crate::app::Session;
use crate::components::error_line::ErrorLine;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let needs_admin = Resource::new(|| (), |_| needs_first_admin());
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    view! {
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    matches!(needs_admin.await, Ok(true)).then(|| view! {
                        <p class="notice">
                            "Parley has no accounts yet. "
                            <a href="/setup">"Create the first admin"</a>
                        </p>
                    })
                })}
            </Suspense>
            <ActionForm action=session.login>
                <input type="hidden" name="next" value=next />
                <label>"E-mail" <input type="email" name="email" autocomplete="username" required /></label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required />
                </label>
                <button type="submit" disabled=move || session.login.pending().get()>"Sign in"</button>
            </ActionForm>
            <ErrorLine value=session.login.value() />
        </section>
    }
}
