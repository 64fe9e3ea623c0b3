use super::AdminTabs;
use crate::api::reward::{CancelRewardRun, StartRewardRun, reward_runs};
use crate::components::chart::Lines;
use crate::components::error_line::ErrorLine;
use crate::components::ticks::ticks;
use crate::reward::{DEFAULT_LAYERS, RewardOptions, RewardResult, RewardRun, RunStatus};
use crate::stats::Series;
use leptos::prelude::*;
use std::time::Duration;

/// Admins train a reward model on the team's ranked comparisons and see whether they can
/// teach one: held-out accuracy with its interval beside a random-label control, the loss
/// curve and the calibration of the head kept.
#[component]
pub fn RewardPage() -> impl IntoView {
    let start = ServerAction::<StartRewardRun>::new();
    let cancel = ServerAction::<CancelRewardRun>::new();
    let tick = ticks(Duration::from_secs(2));
    let runs =
        Resource::new(move || (start.version().get(), cancel.version().get(), tick.get()), |_| reward_runs());
    let request_id = RwSignal::new(uuid::Uuid::new_v4().to_string());
    Effect::new(move |_| {
        if let Some(Ok(_)) = start.value().get() {
            request_id.set(uuid::Uuid::new_v4().to_string());
        }
    });
    let defaults = RewardOptions::default();
    view! {
        <AdminTabs />
        <section class="card">
            <h2>"Train a reward model"</h2>
            <p class="muted">
                "Trains a Bradley–Terry reward model on the preference pairs of the ranked comparisons (the pairs "
                "an export writes), split by conversation as the export splits them. Each reply is read by the "
                "model Parley serves, at each layer asked for: the hidden state after its last token, and the mean "
                "over its tokens. Two linear heads are trained on each layer (the last token; both readings) and "
                "the best on validation is kept. A control trained with half its labels flipped at random shows "
                "what chance looks like: held-out accuracy well above it means the rankings hold something a "
                "model can learn."
            </p>
            <ActionForm action=start>
                <input type="hidden" name="request_id" prop:value=move || request_id.get() />
                <div class="row">
                    <label>"Source (empty: all; parley: made here)" <input type="text" name="source" maxlength="200" /></label>
                    <label>"Layers" <input type="text" name="layers" value=DEFAULT_LAYERS /></label>
                    <label>"At most this many comparisons (empty: all)" <input type="text" name="limit" inputmode="numeric" /></label>
                </div>
                <div class="row">
                    <label>"Split seed" <input type="number" name="split_seed" min="0" value=defaults.split_seed /></label>
                    <label>"Test share" <input type="number" name="test_ratio" min="0.05" max="0.5" step="0.05" value=defaults.test_ratio /></label>
                </div>
                <button type="submit" disabled=move || start.pending().get()>"Train"</button>
            </ActionForm>
            <ErrorLine value=start.value() />
        </section>
        <section class="card">
            <h2>"Runs"</h2>
            <ErrorLine value=cancel.value() />
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match runs.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No run yet."</p> }.into_any(),
                        Ok(list) => {
                            let latest = list.iter().find(|r| r.result.is_some()).cloned();
                            let rows = list.into_iter().map(|run| run_row(run, cancel)).collect_view();
                            view! {
                                <table data-testid="reward-runs">
                                    <thead><tr><th>"Started"</th><th>"Source"</th><th>"Layers"</th><th>"Status"</th><th>"Held-out accuracy"</th><th></th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                                {latest.map(|run| view! { <RunFigures run=run /> })}
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

pub(crate) fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn run_row(run: RewardRun, cancel: ServerAction<CancelRewardRun>) -> impl IntoView {
    let id = run.id;
    let status = match run.status {
        RunStatus::Running => view! {
            <progress max="100" value=format!("{:.0}", run.progress * 100.0)></progress>
            " " <span>{format!("{:.0}% · {}", run.progress * 100.0, run.message)}</span>
        }
        .into_any(),
        RunStatus::Failed => {
            view! { <span class="error">{format!("failed: {}", run.message)}</span> }.into_any()
        }
        other => view! { <span>{other.as_str()}</span> }.into_any(),
    };
    let accuracy = run.result.as_ref().map(|r| {
        let best = r.kept_head().unwrap_or(&r.control);
        format!(
            "{} ({} to {}), control {}",
            percent(best.accuracy),
            percent(best.low),
            percent(best.high),
            percent(r.control.accuracy)
        )
    });
    let layers = run.options.layers.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ");
    view! {
        <tr data-testid="reward-run" data-status=run.status.as_str()>
            <td class="muted">{super::short_time(&run.created_at)}</td>
            <td>{run.options.source.clone().unwrap_or_else(|| "all".into())}</td>
            <td>{layers}</td>
            <td data-testid="run-status">{status}</td>
            <td data-testid="run-accuracy">{accuracy}</td>
            <td>
                {(run.status == RunStatus::Running).then(|| view! {
                    <button type="button" on:click=move |_| { cancel.dispatch(CancelRewardRun { id }); }>"Cancel"</button>
                })}
            </td>
        </tr>
    }
}

/// The latest finished run: every head, the control, the loss curve and the calibration.
#[component]
fn RunFigures(run: RewardRun) -> impl IntoView {
    let Some(result) = run.result else { return ().into_any() };
    let kept_index = result.kept_index();
    let RewardResult { heads, control, calibration, curve, .. } = result.clone();
    let rows = heads
        .iter()
        .chain(std::iter::once(&control))
        .enumerate()
        .map(|(i, h)| {
            let kept = Some(i) == kept_index;
            view! {
                <tr data-testid="reward-head">
                    <td>{h.label.clone()} {kept.then_some(" (kept)")}</td>
                    <td>{percent(h.validation)}</td>
                    <td>{percent(h.accuracy)}</td>
                    <td>{format!("{} to {}", percent(h.low), percent(h.high))}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h3>{format!("Latest finished run: {}", super::short_time(&run.created_at))}</h3>
        <p data-testid="reward-summary">{format!(
            "{} comparisons; {} pairs to train on, {} held out. Features {:.0} s, all {:.1} min. Base model SHA-256 {}…, head {}….",
            result.comparisons, result.pairs_train, result.pairs_test, result.feature_secs, result.total_secs / 60.0,
            result.base_model_sha256.get(..12).unwrap_or(""), result.head_sha256.get(..12).unwrap_or("")
        )}</p>
        <table data-testid="reward-heads">
            <thead><tr><th>"Head"</th><th>"Validation"</th><th>"Held-out accuracy"</th><th>"95% interval"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {loss_chart(&curve)}
        <p class="muted" data-testid="loss-figures">{loss_figures(&curve)}</p>
        {calibration_chart(&calibration)}
    }
    .into_any()
}

/// The kept head's losses, at most 60 steps of them (evenly apart, the last included).
fn loss_chart(curve: &[(usize, f32, f32)]) -> impl IntoView {
    let stride = curve.len().div_ceil(60).max(1);
    let shown: Vec<&(usize, f32, f32)> = curve
        .iter()
        .enumerate()
        .filter(|(i, _)| i % stride == 0 || *i + 1 == curve.len())
        .map(|(_, c)| c)
        .collect();
    let top = shown.iter().flat_map(|c| [c.1, c.2]).fold(0f32, f32::max).max(1e-6);
    let series = |name: &str, pick: fn(&(usize, f32, f32)) -> f32| Series {
        name: name.to_string(),
        values: shown.iter().map(|c| Some(f64::from(pick(c)))).collect(),
    };
    view! {
        <Lines name="loss" title="Loss of the kept head, by training step".to_string()
            labels=shown.iter().map(|c| c.0.to_string()).collect()
            series=vec![series("train", |c| c.1), series("validation", |c| c.2)]
            low=0.0 high=f64::from(top) />
    }
}

/// Predicted chance that a reply wins against how often it did, per tenth of the predictions.
pub(crate) fn calibration_chart(bins: &[(f64, f64, usize)]) -> impl IntoView {
    let series = |name: &str, pick: fn(&(f64, f64, usize)) -> f64| Series {
        name: name.to_string(),
        values: bins.iter().map(|b| Some(pick(b))).collect(),
    };
    let counts = bins.iter().map(|b| format!("{:.0}%: {}", 100.0 * b.0, b.2)).collect::<Vec<_>>().join(" · ");
    view! {
        <p class="muted" data-testid="calibration-pairs">{format!("Pairs (each in both orders) per bin of predicted chance: {counts}")}</p>
        <Lines name="calibration" title="Calibration: predicted chance the first reply wins, and how often it did".to_string()
            labels=bins.iter().map(|b| format!("{:.0}%", 100.0 * b.0)).collect()
            series=vec![series("predicted", |b| b.0), series("observed", |b| b.1)]
            low=0.0 high=1.0 />
    }
}

/// The validation loss at the start and at its best, and where the best was.
fn loss_figures(curve: &[(usize, f32, f32)]) -> String {
    let best = curve.iter().min_by(|a, b| a.2.total_cmp(&b.2));
    match (curve.first(), best, curve.last()) {
        (Some(first), Some(best), Some(last)) => format!(
            "validation loss {:.3} at step 1, best {:.3} at step {} of {} (the head kept)",
            first.2, best.2, best.0, last.0
        ),
        _ => String::new(),
    }
}
