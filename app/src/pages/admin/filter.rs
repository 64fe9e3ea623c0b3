use super::AdminTabs;
use crate::api::filter::{SavePolicy, filter_categories, get_filter_overview, list_filter_decisions};
use crate::components::error_line::ErrorLine;
use crate::components::name_options::NameOptions;
use crate::conversation::ConversationKind;
use crate::filter::FilterFeedbackKind;
use leptos::prelude::*;

/// Admins edit the content filter's policy (each save is a new version; a bad line refuses
/// the whole file) and read how it does: texts flagged per category, what people said was
/// wrong, and the precision that follows.
#[component]
pub fn FilterPage() -> impl IntoView {
    let save = ServerAction::<SavePolicy>::new();
    let overview = Resource::new(move || save.version().get(), |_| get_filter_overview());
    view! {
        <AdminTabs />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => {
                        let version = if overview.policy.version == 0 {
                            "the built-in default (version 0)".to_string()
                        } else {
                            format!("version {}, saved {}", overview.policy.version, crate::pages::short_time(&overview.policy.created_at))
                        };
                        let rows = overview.categories.iter().map(|c| {
                            let precision = c.precision().map(|p| format!("{:.0}%", p * 100.0)).unwrap_or_else(|| "–".into());
                            view! {
                                <tr data-testid="filter-category">
                                    <td>{c.category.clone()}</td>
                                    <td>{c.flagged}</td>
                                    <td data-testid="false-positives">{c.false_positives}</td>
                                    <td>{c.false_negatives}</td>
                                    <td>{precision}</td>
                                </tr>
                            }
                        }).collect_view();
                        let feedback = overview.feedback.iter().map(|(f, text)| {
                            let kind = match f.kind {
                                FilterFeedbackKind::FalsePositive => "not unsafe",
                                FilterFeedbackKind::FalseNegative => "should have been flagged",
                            };
                            view! {
                                <tr>
                                    <td class="muted">{crate::pages::short_time(&f.created_at)}</td>
                                    <td>{kind}</td>
                                    <td>{f.category.clone()}</td>
                                    <td>{text.clone()}</td>
                                </tr>
                            }
                        }).collect_view();
                        view! {
                            <section class="card">
                                <h2>"How the filter does"</h2>
                                <p class="muted">
                                    "Precision is the share of flags nobody called wrong: (flagged − not unsafe) / flagged."
                                </p>
                                <table data-testid="filter-stats">
                                    <thead><tr><th>"Category"</th><th>"Flagged"</th><th>"Not unsafe"</th><th>"Should have been flagged"</th><th>"Precision"</th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                                {overview.moderation.clone().map(|m| view! {
                                    <p class="muted" data-testid="moderation">{format!("External moderation endpoint: {m}.")}</p>
                                })}
                                <h3>"Newest feedback on the filter"</h3>
                                <table>
                                    <tbody>{feedback}</tbody>
                                </table>
                            </section>
                            <section class="card">
                                <h2>"Policy"</h2>
                                <p class="muted" data-testid="policy-version">{format!("In force: {version}.")}</p>
                                <p class="muted">
                                    "One `category NAME warn|block` line per category; under it `words:` (comma-separated, "
                                    "whole words) and `pattern:` (a regular expression) lines. Text is compared after "
                                    "Unicode normalisation, lower-casing and accent removal."
                                </p>
                                <ActionForm action=save>
                                    <label>
                                        "Policy"
                                        <textarea name="policy" rows="16" class="mono"
                                            inner_html=crate::markdown::escape_text(&overview.policy.text)></textarea>
                                    </label>
                                    <button type="submit" disabled=move || save.pending().get()>"Save as a new version"</button>
                                </ActionForm>
                                <ErrorLine value=save.value() />
                            </section>
                        }
                        .into_any()
                    }
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                }
            })}
        </Transition>
        <FilterDecisions />
    }
}

/// Every decision of the filter, newest first, with filters; each line links to its
/// conversation and says what matched and what people said of it.
#[component]
fn FilterDecisions() -> impl IntoView {
    let category = RwSignal::new(String::new());
    let action = RwSignal::new("flagged".to_string());
    let source = RwSignal::new(String::new());
    let version = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let decisions = Resource::new(
        move || (category.get(), action.get(), source.get(), version.get(), days.get()),
        |(category, action, source, version, days)| {
            list_filter_decisions(category, action, source, version.trim().parse().ok(), days.parse().ok())
        },
    );
    let categories = Resource::new(|| (), |_| filter_categories());
    view! {
        <section class="card">
            <h2>"Decisions"</h2>
            <form class="inline filters" role="search" on:submit=|ev| ev.prevent_default()>
                <label class="inline">
                    "Category"
                    <select name="category" on:change=move |ev| category.set(event_target_value(&ev))>
                        <NameOptions names=categories />
                    </select>
                </label>
                <label class="inline">
                    "Decision"
                    <select name="action" on:change=move |ev| action.set(event_target_value(&ev))>
                        <option value="flagged" selected>"Flagged"</option>
                        <option value="block">"Blocked"</option>
                        <option value="warn">"Warned"</option>
                        <option value="passed">"Passed"</option>
                        <option value="">"All"</option>
                    </select>
                </label>
                <label class="inline">
                    "Written by"
                    <select name="source" on:change=move |ev| source.set(event_target_value(&ev))>
                        <option value="">"Anyone"</option>
                        <option value="user">"A person"</option>
                        <option value="model">"The model"</option>
                    </select>
                </label>
                <label class="inline">
                    "Policy version"
                    <input name="policy_version" type="number" min="0" size="4" on:change=move |ev| version.set(event_target_value(&ev)) />
                </label>
                <label class="inline">
                    "Days"
                    <select name="days" on:change=move |ev| days.set(event_target_value(&ev))>
                        <option value="">"All"</option>
                        <option value="1">"1"</option>
                        <option value="7">"7"</option>
                        <option value="30">"30"</option>
                    </select>
                </label>
            </form>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match decisions.await {
                        Ok(list) => {
                            let shown = list.lines.len();
                            let rows = list.lines.into_iter().map(|line| {
                                let href = match line.conversation_kind {
                                    ConversationKind::Chat => format!("/chat/{}", line.conversation_id),
                                    ConversationKind::Demonstration => format!("/write/{}", line.conversation_id),
                                };
                                let decision = line.action.map_or("passed", |a| a.as_str());
                                let feedback = match (line.false_positives, line.false_negatives) {
                                    (0, 0) => String::new(),
                                    (fp, 0) => format!("{fp} not unsafe"),
                                    (0, fneg) => format!("{fneg} should have been flagged"),
                                    (fp, fneg) => format!("{fp} not unsafe, {fneg} should have been flagged"),
                                };
                                view! {
                                    <tr data-testid="filter-decision">
                                        <td class="muted">{crate::pages::short_time(&line.created_at)}</td>
                                        <td>{decision}</td>
                                        <td>{line.categories.join(", ")}</td>
                                        <td class="muted">{line.matched.join("; ")}</td>
                                        <td>{if line.from_model { "model" } else { "person" }}</td>
                                        <td><a href=href>{line.text}</a></td>
                                        <td class="muted">{format!("v{}", line.policy_version)}</td>
                                        <td>{feedback}</td>
                                    </tr>
                                }
                            }).collect_view();
                            view! {
                                <p class="muted" data-testid="decision-count">{format!("{} match; the newest {shown} shown.", list.total)}</p>
                                <table data-testid="filter-decisions">
                                    <thead><tr><th>"When"</th><th>"Decision"</th><th>"Categories"</th><th>"Matched"</th><th>"By"</th><th>"Text"</th><th>"Policy"</th><th>"Feedback"</th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }.into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
