use crate::app::Session;
use crate::domain::AREAS;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// The top bar: the areas the signed-in role may use, who is signed in, and sign-out.
#[component]
pub fn Nav() -> impl IntoView {
    let session = expect_context::<Session>();
    // Read the router here, not inside the Suspend below: contexts looked up while a
    // suspended view resolves on the server are not reliably found.
    let path = use_location().pathname;
    view! {
        <header class="topbar">
            <a href="/" class="brand">"Parley"</a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match session.user.await {
                        Ok(Some(user)) => {
                            let links = AREAS
                                .iter()
                                .filter(|area| user.role.allows(area.needs))
                                .map(|area| {
                                    // try_with: a client that hangs up mid-render disposes
                                    // the location while this may still be evaluated.
                                    let current = move || {
                                        path.try_with(|p| p == area.path || p.starts_with(&format!("{}/", area.path)))
                                            .unwrap_or(false)
                                            .then_some("page")
                                    };
                                    view! { <a href=area.path aria-current=current>{area.label}</a> }
                                })
                                .collect_view();
                            view! {
                                <nav aria-label="Areas">{links}</nav>
                                <div class="who">
                                    <span data-testid="signed-in-as">{user.email.clone()}</span>
                                    <span class="role">{user.role.as_str()}</span>
                                    <a href="/account" aria-current=move || {
                                        path.try_with(|p| p == "/account").unwrap_or(false).then_some("page")
                                    }>"Account"</a>
                                    <ActionForm action=session.logout>
                                        <button type="submit" class="link">"Sign out"</button>
                                    </ActionForm>
                                </div>
                            }
                                .into_any()
                        }
                        _ => view! { <a href="/login" class="who">"Sign in"</a> }.into_any(),
                    }
                })}
            </Transition>
        </header>
    }
}
