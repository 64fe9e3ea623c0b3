//! Quality at a glance. `/stats`: the team dashboard for reviewers and admins. `/progress`:
//! a trainer's own figures (reviewers and admins open anyone's at `/progress/<id>`).
//! `/leaderboard`: everyone by score, with the formula. The charts are SVG rendered on the
//! server and refreshed every minute once the page is live.

use crate::api::stats::{leaderboard, quality_dashboard, trainer_progress};
use crate::components::chart::{HBars, Lines, StackedBars};
use crate::components::ticks::ticks;
use crate::quality::Agreement;
use crate::stats::{GroupAgreement, SCORE_FORMULA, Series};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

fn figure(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.2}"))
}

#[component]
fn AgreementRow(label: String, agreement: Agreement) -> impl IntoView {
    view! {
        <tr data-testid="agreement-row">
            <td>{label}</td>
            <td>{agreement.comparisons}</td>
            <td>{agreement.pairwise.map_or_else(|| "–".to_string(), |v| format!("{:.0}%", v * 100.0))}</td>
            <td>{figure(agreement.kendall_tau)}</td>
            <td data-testid="alpha">{figure(agreement.alpha)}</td>
        </tr>
    }
}

#[component]
fn AgreementTable(overall: Agreement, groups: Vec<(&'static str, Vec<GroupAgreement>)>) -> impl IntoView {
    let rows = groups
        .into_iter()
        .flat_map(|(kind, list)| list.into_iter().map(move |g| (format!("{kind} {}", g.label), g.agreement)))
        .map(|(label, agreement)| view! { <AgreementRow label agreement /> })
        .collect_view();
    view! {
        <table data-testid="agreement">
            <thead><tr><th>"Rankings of"</th><th>"Comparisons (≥ 2 trainers)"</th><th>"Pairs ordered alike"</th><th>"Kendall's τ-b"</th><th>"Krippendorff's α (ordinal)"</th></tr></thead>
            <tbody>
                <AgreementRow label="All".to_string() agreement=overall />
                {rows}
            </tbody>
        </table>
    }
}

#[component]
pub fn StatsPage() -> impl IntoView {
    let tick = ticks(std::time::Duration::from_secs(60));
    let data = Resource::new(move || tick.get(), |_| quality_dashboard());
    view! {
        <section class="card stats">
            <h1>"Quality"</h1>
            <p class="muted">"Last 30 days, UTC. " <a href="/leaderboard">"Leaderboard"</a> " · " <a href="/progress">"My progress"</a></p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => {
                            let queues: Vec<(String, f64)> = d.queues.iter().map(|(n, v)| (n.clone(), *v as f64)).collect();
                            let by_day_labels: Vec<String> = d.agreement_by_day.iter().map(|g| g.label.clone()).collect();
                            let agreement_lines = vec![
                                Series { name: "Krippendorff's α".into(), values: d.agreement_by_day.iter().map(|g| g.agreement.alpha).collect() },
                                Series { name: "Kendall's τ-b".into(), values: d.agreement_by_day.iter().map(|g| g.agreement.kendall_tau).collect() },
                                Series { name: "Pairs ordered alike".into(), values: d.agreement_by_day.iter().map(|g| g.agreement.pairwise).collect() },
                            ];
                            let trainers = d.by_trainer.iter().map(|t| {
                                let href = format!("/progress/{}", t.user_id);
                                view! {
                                    <tr data-testid="trainer-agreement">
                                        <td><a href=href>{t.email.clone()}</a></td>
                                        <td>{t.comparisons}</td>
                                        <td>{format!("{:.2}", t.tau)}</td>
                                    </tr>
                                }
                            }).collect_view();
                            let model_rows = d.models.iter().map(|m| view! {
                                <tr data-testid="model-strength">
                                    <td>{m.name.clone()}</td>
                                    <td>{format!("{:.2}", m.strength)}</td>
                                    <td>{format!("{:.2} – {:.2}", m.low, m.high)}</td>
                                    <td>{format!("{} of {}", m.wins, m.games)}</td>
                                    <td>{if m.games > 0.0 { format!("{:.0}%", m.wins / m.games * 100.0) } else { "–".into() }}</td>
                                </tr>
                            }).collect_view();
                            let no_models = d.models.is_empty();
                            let strengths: Vec<(String, f64)> = d.models.iter().map(|m| (m.name.clone(), m.strength)).collect();
                            let whiskers: Vec<(f64, f64)> = d.models.iter().map(|m| (m.low, m.high)).collect();
                            let categories: Vec<(String, f64)> = d.feedback_categories.iter().map(|(c, n)| (c.clone(), *n as f64)).collect();
                            let precision: Vec<(String, f64)> = d.filter_precision.iter().filter_map(|(c, p)| p.map(|p| (c.clone(), p))).collect();
                            view! {
                                <p class="muted" data-testid="freshness">{d.freshness.describe()}</p>
                                <StackedBars name="per-day" title="Work per day".to_string() labels=d.days.clone() series=d.per_day.clone() />
                                <HBars name="queues" title="Waiting now".to_string() items=queues />
                                <h2>"Agreement"</h2>
                                <p class="muted">
                                    "Over comparisons ranked by two or more trainers, each trainer's latest ranking. α is 1 for perfect agreement and 0 for agreement no better than chance."
                                </p>
                                <AgreementTable overall=d.agreement.clone() groups=vec![("Batch", d.by_batch.clone()), ("Model", d.by_model.clone())] />
                                <Lines name="agreement" title="Agreement by day of ranking".to_string() labels=by_day_labels series=agreement_lines low=-1.0 high=1.0 />
                                <h3>"Each trainer against the consensus of the others"</h3>
                                <p class="muted">"Mean Kendall's τ-b between the trainer's ranking and the ranked-pairs consensus of the other trainers of the same comparison."</p>
                                <table>
                                    <thead><tr><th>"Trainer"</th><th>"Comparisons"</th><th>"τ-b"</th></tr></thead>
                                    <tbody>{trainers}</tbody>
                                </table>
                                <h2>"Model versions head to head"</h2>
                                <p class="muted">"Bradley–Terry strengths from every ranked pair of completions by two different versions (ties count half), scaled to a geometric mean of 1, with 95% intervals from 200 bootstrap resamples of comparisons. P(A preferred to B) = s_A / (s_A + s_B)."</p>
                                <Show when=move || no_models>
                                    <p class="muted" data-testid="no-models">"Needs rankings of completions from two model versions."</p>
                                </Show>
                                <table>
                                    <thead><tr><th>"Version"</th><th>"Strength"</th><th>"95% interval"</th><th>"Pairs won"</th><th>"Win rate"</th></tr></thead>
                                    <tbody>{model_rows}</tbody>
                                </table>
                                <HBars name="models" title="Strength (with interval)".to_string() items=strengths whiskers />
                                <RewardSection />
                                <h2>"Feedback and the content filter"</h2>
                                <p data-testid="thumbs">{format!("Thumbs up {} · thumbs down {}", d.thumbs_up, d.thumbs_down)}</p>
                                <HBars name="feedback-categories" title="Feedback categories ticked".to_string() items=categories />
                                <HBars name="filter-precision" title="Filter precision by category (flags no one called wrong)".to_string() items=precision max=1.0 />
                            }
                            .into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Whether the rankings can teach a reward model: the latest finished run's held-out
/// accuracy overall, per batch and per model version, and its calibration.
#[component]
fn RewardSection() -> impl IntoView {
    use crate::pages::admin::reward::{calibration_chart, percent};
    let run = Resource::new(|| (), |_| crate::api::stats::reward_figures());
    let rows = |parts: &[crate::reward::GroupFigures], kind: &str| {
        parts
            .iter()
            .map(|g| {
                view! {
                    <tr data-testid="reward-part">
                        <td>{format!("{kind} {}", g.label)}</td>
                        <td>{g.pairs}</td>
                        <td>{percent(g.accuracy)}</td>
                        <td>{format!("{} to {}", percent(g.low), percent(g.high))}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <h2>"Reward model"</h2>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match run.await {
                    Ok(Some(run)) => {
                        let Some(r) = run.result else { return ().into_any() };
                        let kept = r.kept_head().cloned().unwrap_or(r.control.clone());
                        view! {
                            <p data-testid="reward-quality">{format!(
                                "The latest reward model ({}, trained on {} pairs, layer {}) orders {} of {} held-out pairs as the rankings do (95% interval {} to {}); trained with half its labels flipped at random: {}.",
                                crate::pages::admin::short_time(&run.created_at), r.pairs_train, r.best_layer,
                                percent(kept.accuracy), r.pairs_test, percent(kept.low), percent(kept.high), percent(r.control.accuracy)
                            )}</p>
                            <p class="muted">"Held-out pairs by the batch of their comparison and by the model version of their replies (a pair of two versions counts for both). Doubtful rankings: "<a href="/review/rankings">"Review"</a>"."</p>
                            <table data-testid="reward-parts">
                                <thead><tr><th>"Pairs of"</th><th>"Pairs"</th><th>"Held-out accuracy"</th><th>"95% interval"</th></tr></thead>
                                <tbody>{rows(&r.by_batch, "Batch")}{rows(&r.by_model, "Model")}</tbody>
                            </table>
                            {calibration_chart(&r.calibration)}
                        }
                        .into_any()
                    }
                    Ok(None) => view! {
                        <p class="muted" data-testid="reward-quality">"No reward model trained yet (Admin -> Reward model)."</p>
                    }
                    .into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn ProgressPage() -> impl IntoView {
    let params = use_params_map();
    let whom = move || params.read().get("id").and_then(|id| Uuid::parse_str(&id).ok());
    let tick = ticks(std::time::Duration::from_secs(60));
    let data = Resource::new(move || (whom(), tick.get()), |(id, _)| trainer_progress(id));
    view! {
        <section class="card stats">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(p) => {
                            let totals = p.totals.iter().map(|(label, n)| view! {
                                <li data-testid="total"><strong>{*n}</strong>" "{label.clone()}</li>
                            }).collect_view();
                            let agreement = match &p.agreement {
                                Some(a) => format!("Kendall's τ-b {:.2} against the consensus of the others, over {} comparisons ranked by others too", a.tau, a.comparisons),
                                None => "No comparison ranked by you and someone else yet.".to_string(),
                            };
                            let place = p.place.map_or_else(|| "not on the leaderboard yet".to_string(), |n| format!("place {n} on the leaderboard, score {:.1}", p.score));
                            view! {
                                <h1>{format!("Progress of {}", p.email)}</h1>
                                <p class="muted" data-testid="freshness">{p.freshness.describe()}</p>
                                <p data-testid="streak">{format!("Streak: {} day{} in a row", p.streak, if p.streak == 1 { "" } else { "s" })}" · " {place} " · " <a href="/leaderboard">"Leaderboard"</a></p>
                                <ul class="totals">{totals}</ul>
                                <StackedBars name="my-per-day" title="Your work per day (last 30 days)".to_string() labels=p.days.clone() series=p.per_day.clone() />
                                <h2>"Reviews of your demonstrations"</h2>
                                <p data-testid="review-outcomes">{format!("{} accepted ({} edited by a reviewer) · {} rejected · {} not reviewed", p.accepted, p.edited_by_reviewer, p.rejected, p.waiting)}</p>
                                <h2>"Agreement"</h2>
                                <p data-testid="my-agreement">{agreement}</p>
                            }
                            .into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn LeaderboardPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| leaderboard());
    view! {
        <section class="card stats">
            <h1>"Leaderboard"</h1>
            <p class="formula" data-testid="formula">{SCORE_FORMULA}</p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(rows) if rows.is_empty() => view! { <p class="muted">"No work counted yet."</p> }.into_any(),
                        Ok(rows) => {
                            let rows = rows.into_iter().map(|r| view! {
                                <tr data-testid="leader">
                                    <td>{r.place}</td>
                                    <td>{r.email}</td>
                                    <td>{format!("{:.1}", r.score)}</td>
                                    <td>{r.tally.accepted}</td>
                                    <td>{r.tally.unreviewed}</td>
                                    <td>{r.tally.rejected}</td>
                                    <td>{r.tally.rankings}</td>
                                    <td>{r.tally.feedback}</td>
                                </tr>
                            }).collect_view();
                            view! {
                                <table data-testid="leaderboard">
                                    <thead><tr><th>"Place"</th><th>"Trainer"</th><th>"Score"</th><th>"Accepted"</th><th>"Not yet reviewed"</th><th>"Rejected"</th><th>"Rankings"</th><th>"Feedback"</th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }
                            .into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
