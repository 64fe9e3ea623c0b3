//! Feedback: what people said of model outputs, newest first, filtered by category, model
//! version and days, each linked to its conversation. Reviewers and admins see everyone's,
//! trainers their own; admins also set the categories offered.

use crate::api::feedback::{SetFeedbackCategories, feedback_categories, list_feedback};
use crate::app::Session;
use crate::components::error_line::ErrorLine;
use crate::components::name_options::NameOptions;
use crate::conversation::ConversationKind;
use crate::domain::Role;
use leptos::prelude::*;
use uuid::Uuid;

#[component]
pub fn FeedbackPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let set_categories = ServerAction::<SetFeedbackCategories>::new();
    let category = RwSignal::new(String::new());
    let model = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let categories = Resource::new(move || set_categories.version().get(), |_| feedback_categories());
    let items = Resource::new(
        move || (category.get(), model.get(), from.get(), to.get()),
        |(category, model, from, to)| list_feedback(category, Uuid::parse_str(&model).ok(), from, to),
    );
    // The model versions to filter by: those any listed feedback is about.
    let everything =
        Resource::new(|| (), |_| list_feedback(String::new(), None, String::new(), String::new()));
    view! {
        <section class="card">
            <h1>"Feedback"</h1>
            <form class="inline filters" role="search" on:submit=|ev| ev.prevent_default()>
                <label class="inline">
                    "Category"
                    <select on:change=move |ev| category.set(event_target_value(&ev))>
                        <NameOptions names=categories />
                    </select>
                </label>
                <label class="inline">
                    "Model"
                    <select on:change=move |ev| model.set(event_target_value(&ev))>
                        <option value="">"All"</option>
                        <Transition fallback=|| ()>
                            {move || Suspend::new(async move {
                                let mut seen: Vec<(Uuid, String)> = vec![];
                                for item in everything.await.unwrap_or_default() {
                                    if let (Some(id), Some(name)) = (item.model_version_id, item.model_name)
                                        && !seen.iter().any(|(s, _)| *s == id)
                                    {
                                        seen.push((id, name));
                                    }
                                }
                                seen.into_iter()
                                    .map(|(id, name)| view! { <option value=id.to_string()>{format!("{name} ({})", &id.to_string()[..8])}</option> })
                                    .collect_view()
                            })}
                        </Transition>
                    </select>
                </label>
                <label class="inline">"From" <input type="date" on:change=move |ev| from.set(event_target_value(&ev)) /></label>
                <label class="inline">"To" <input type="date" on:change=move |ev| to.set(event_target_value(&ev)) /></label>
            </form>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match items.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted" data-testid="no-feedback">"No feedback matches."</p> }.into_any(),
                        Ok(list) => {
                            let count = list.len();
                            let rows = list
                                .into_iter()
                                .map(|item| {
                                    let href = item.conversation.map(|(id, kind)| match kind {
                                        ConversationKind::Chat => format!("/chat/{id}"),
                                        ConversationKind::Demonstration => format!("/write/{id}"),
                                    });
                                    let what = item.feedback.target.kind();
                                    let thumbs = match item.feedback.thumbs {
                                        Some(1) => "good",
                                        Some(-1) => "bad",
                                        _ => "",
                                    };
                                    view! {
                                        <tr data-testid="feedback-item">
                                            <td class="muted">{crate::pages::short_time(&item.feedback.updated_at)}</td>
                                            <td>{item.user_email}</td>
                                            <td>{thumbs}</td>
                                            <td>{item.feedback.categories.join(", ")}</td>
                                            <td>{item.feedback.text}</td>
                                            <td>
                                                <span class="muted">{what} " "</span>
                                                {match href {
                                                    Some(href) => view! { <a href=href>{item.excerpt}</a> }.into_any(),
                                                    None => view! { <span>{item.excerpt}</span> }.into_any(),
                                                }}
                                            </td>
                                            <td class="muted">{item.model_name.unwrap_or_default()}</td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <p class="muted" data-testid="feedback-count">{format!("{count} shown")}</p>
                                <table data-testid="feedback-list">
                                    <thead><tr><th>"When"</th><th>"Who"</th><th>""</th><th>"Categories"</th><th>"Comment"</th><th>"On"</th><th>"Model"</th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }
                            .into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let admin = matches!(session.user.await, Ok(Some(user)) if user.role.allows(Role::Admin));
                let current = categories.await.unwrap_or_default().join("\n");
                admin.then(|| view! {
                    <section class="card">
                        <h2>"Categories"</h2>
                        <ActionForm action=set_categories>
                            <label>
                                "One a line, in the order shown"
                                <textarea name="categories" rows="6" inner_html=crate::markdown::escape_text(&current)></textarea>
                            </label>
                            <button type="submit" disabled=move || set_categories.pending().get()>"Save categories"</button>
                        </ActionForm>
                        <ErrorLine value=set_categories.value() />
                    </section>
                })
            })}
        </Transition>
    }
}
