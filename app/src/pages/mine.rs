//! My work: the trainer's own demonstrations and chats, newest change first, with status,
//! filters and search; each opens where it can be continued.

use crate::api::conversations::my_conversations;
use crate::api::review::my_reviews;
use crate::conversation::{ConversationKind, ConversationStatus};
use leptos::prelude::*;

#[component]
pub fn MyWorkPage() -> impl IntoView {
    let kind = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let offset = RwSignal::new(0i64);
    // A changed filter starts again at the first page.
    Effect::new(move |_| {
        (kind.track(), status.track(), search.track());
        if offset.get_untracked() != 0 {
            offset.set(0);
        }
    });
    let list = Resource::new(
        move || (kind.get(), status.get(), search.get(), offset.get()),
        |(kind, status, search, offset)| async move {
            my_conversations(
                kind.parse::<ConversationKind>().ok(),
                status.parse::<ConversationStatus>().ok(),
                search,
                offset,
            )
            .await
        },
    );
    let search_box = crate::components::debounce::Debounce::new(300);
    let reviews = Resource::new(|| (), |_| my_reviews());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let items = reviews.await.unwrap_or_default();
                (!items.is_empty()).then(|| {
                    let rows = items
                        .into_iter()
                        .map(|item| {
                            let r = item.review;
                            let title = if item.title.is_empty() { "(no turns)".to_string() } else { item.title };
                            let edited = r.edited_revision.map(|n| format!(" · edited by the reviewer as revision {n}"));
                            view! {
                                <li data-testid="my-review">
                                    <a href=format!("/write/{}", r.conversation_id)>{title}</a>" "
                                    <span class=format!("status {}", r.verdict.as_str())>{r.verdict.as_str()}</span>
                                    <span class="muted">{format!(" by {} · revision {} · {}", r.reviewer_email, r.revision, crate::pages::short_time(&r.created_at))}{edited}</span>
                                    {(!r.reason.is_empty()).then(|| view! { <blockquote data-testid="review-reason">{r.reason.clone()}</blockquote> })}
                                </li>
                            }
                        })
                        .collect_view();
                    view! {
                        <section class="card">
                            <h2>"Reviews of your demonstrations"</h2>
                            <p class="muted">"The latest verdict on each; a rejected one can be changed and submitted again."</p>
                            <ul class="plain reviews">{rows}</ul>
                        </section>
                    }
                })
            })}
        </Transition>
        <section class="card">
            <h1>"My work"</h1>
            <form class="inline filters" role="search" on:submit=|ev| ev.prevent_default()>
                <label class="inline">
                    "Kind"
                    <select on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="">"All"</option>
                        <option value="demonstration">"Demonstrations"</option>
                        <option value="chat">"Chats"</option>
                    </select>
                </label>
                <label class="inline">
                    "Status"
                    <select on:change=move |ev| status.set(event_target_value(&ev))>
                        <option value="">"All"</option>
                        <option value="draft">"Draft"</option>
                        <option value="submitted">"Submitted"</option>
                        <option value="accepted">"Accepted"</option>
                        <option value="rejected">"Rejected"</option>
                    </select>
                </label>
                <label class="inline grow">
                    "Search"
                    <input type="search" placeholder="words in any turn"
                        on:input=move |ev| {
                            let text = event_target_value(&ev);
                            search_box.call(move || search.set(text));
                        } />
                </label>
            </form>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(list) if list.items.is_empty() && list.offset == 0 => view! {
                            <p class="muted" data-testid="empty">
                                "Nothing here yet. " <a href="/write">"Write a demonstration"</a> " or "
                                <a href="/chat">"chat with the model"</a> "."
                            </p>
                        }
                        .into_any(),
                        Ok(list) => {
                            let shown = list.items.len() as i64;
                            let range = if shown == 0 {
                                format!("None of {} here", list.total)
                            } else {
                                format!("{}–{} of {}", list.offset + 1, list.offset + shown, list.total)
                            };
                            let (at, size) = (list.offset, list.page_size);
                            let at_end = at + shown >= list.total;
                            let rows = list
                                .items
                                .into_iter()
                                .map(|item| {
                                    let href = match item.kind {
                                        ConversationKind::Demonstration => format!("/write/{}", item.id),
                                        ConversationKind::Chat => format!("/chat/{}", item.id),
                                    };
                                    let title = if item.title.is_empty() { "(no turns yet)".to_string() } else { item.title };
                                    view! {
                                        <tr data-testid="work-item">
                                            <td><a href=href>{title}</a></td>
                                            <td>{item.kind.as_str()}</td>
                                            <td><span class=format!("status {}", item.status.as_str())>{item.status.as_str()}</span></td>
                                            <td>{item.messages}</td>
                                            <td class="muted">{crate::pages::short_time(&item.updated_at)}</td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <table data-testid="work">
                                    <thead><tr><th>"First turn"</th><th>"Kind"</th><th>"Status"</th><th>"Turns"</th><th>"Changed"</th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                                <nav class="pager row" aria-label="Pages of your work">
                                    <button type="button" class="secondary" disabled=at == 0
                                        on:click=move |_| offset.set((at - size).max(0))>"Previous page"</button>
                                    <span class="muted" data-testid="work-range">{range}</span>
                                    <button type="button" class="secondary" disabled=at_end
                                        on:click=move |_| offset.set(at + size)>"Next page"</button>
                                </nav>
                            }
                            .into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
