use super::AdminTabs;
use crate::api::filter::{SavePolicy, get_filter_overview};
use crate::components::error_line::ErrorLine;
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
                                        <textarea name="policy" rows="16" class="mono">{overview.policy.text.clone()}</textarea>
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
    }
}
