use crate::api::home::my_counts;
use crate::app::Session;
use leptos::prelude::*;

/// The start page: what the signed-in user has produced so far.
#[component]
pub fn HomePage() -> impl IntoView {
    let session = expect_context::<Session>();
    let counts = Resource::new(|| (), |_| my_counts());
    view! {
        <section class="card">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match (session.user.await, counts.await) {
                        (Ok(Some(user)), Ok(counts)) => view! {
                            <h1>"Welcome, " {user.email}</h1>
                            <dl class="counts" data-testid="counts">
                                <div><dt>"Demonstrations"</dt><dd>{counts.demonstrations}</dd></div>
                                <div><dt>"Rankings"</dt><dd>{counts.rankings}</dd></div>
                                <div><dt>"Feedback"</dt><dd>{counts.feedback}</dd></div>
                            </dl>
                        }.into_any(),
                        (Ok(None), _) | (_, Err(_)) => view! {
                            <h1>"Parley"</h1>
                            <p><a href="/login">"Sign in"</a> " to start."</p>
                        }.into_any(),
                        (Err(err), _) => view! { <p class="error">{err.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
