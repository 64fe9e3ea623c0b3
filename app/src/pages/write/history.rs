//! The submitted versions of a demonstration, newest first, each with its turns rendered
//! as the turns above are (Markdown, no raw HTML).

use crate::conversation::{Revision, Role};
use crate::error::ApiError;
use leptos::prelude::*;

/// `history` is made by the page, outside any suspended view: a resource made while a
/// suspended view resolves on the server does not find the server's context.
#[component]
pub fn History(history: Resource<Result<Vec<Revision>, ApiError>>) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let revisions = history.await.unwrap_or_default();
                if revisions.is_empty() {
                    return ().into_any();
                }
                let count = revisions.len();
                let items = revisions
                    .into_iter()
                    .rev()
                    .map(|r| {
                        let turns = r
                            .conversation
                            .path(|_, _| None)
                            .into_iter()
                            .map(|m| {
                                let who = if m.role == Role::User { "User" } else { "Assistant" };
                                view! {
                                    <li data-role=m.role.as_str()>
                                        <strong>{who}</strong>
                                        <crate::components::markdown::Markdown text=m.text />
                                    </li>
                                }
                            })
                            .collect_view();
                        view! {
                            <li data-testid="revision">
                                <p>
                                    {format!("Revision {}", r.revision)}
                                    <span class="muted">{format!(" · submitted {}", crate::pages::short_time(&r.submitted_at))}</span>
                                </p>
                                <ol class="revision-turns">{turns}</ol>
                            </li>
                        }
                    })
                    .collect_view();
                view! {
                    <details class="history">
                        <summary>{format!("History: {count} submitted revision(s)")}</summary>
                        <ol class="revisions">{items}</ol>
                    </details>
                }
                .into_any()
            })}
        </Transition>
    }
}
