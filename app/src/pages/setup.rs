use crate::api::auth::needs_first_admin;
use crate::app::Session;
use crate::components::error_line::ErrorLine;
use crate::components::new_credentials::NewCredentials;
use leptos::prelude::*;
use uuid::Uuid;

/// First start: create the first admin. Offered only while Parley has no accounts.
#[component]
pub fn SetupPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let needs_admin = Resource::new(|| (), |_| needs_first_admin());
    // Made once per form: a double-clicked submit carries the same id and creates one admin.
    let request_id = Uuid::new_v4().to_string();
    view! {
        <section class="card narrow">
            <h1>"Create the first admin"</h1>
            <Suspense fallback=|| ()>
                {move || {
                    let request_id = request_id.clone();
                    Suspend::new(async move {
                        if !matches!(needs_admin.await, Ok(true)) {
                            return view! {
                                <p class="notice">"Parley already has an admin. " <a href="/login">"Sign in"</a></p>
                            }
                                .into_any();
                        }
                        view! {
                            <ActionForm action=session.setup>
                                <input type="hidden" name="request_id" value=request_id />
                                <NewCredentials />
                                <button type="submit" disabled=move || session.setup.pending().get()>"Create admin"</button>
                            </ActionForm>
                        }
                            .into_any()
                    })
                }}
            </Suspense>
            <ErrorLine value=session.setup.value() />
        </section>
    }
}
