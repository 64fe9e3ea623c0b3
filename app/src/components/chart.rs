//! Charts drawn as SVG while the page renders on the server, so they read without JavaScript.
//! Each has a value axis with round ticks, labels that fit inside it, its figures written on
//! or beside the marks (and as tooltips), a legend naming the series, and a table of the
//! same numbers under it for reading them exactly (or with a screen reader).

use crate::stats::Series;
use leptos::prelude::*;

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 44.0;
/// Room on the right for the last label and for values written beside bars.
const RIGHT: f64 = 18.0;
const BOTTOM: f64 = 26.0;
const TOP: f64 = 16.0;

fn fmt(value: f64) -> String {
    if value.fract().abs() < 1e-9 { format!("{value:.0}") } else { format!("{value:.2}") }
}

/// Round tick values from `low` to at least `high`: 1, 2 or 5 times a power of ten apart,
/// about four steps.
pub fn nice_ticks(low: f64, high: f64) -> Vec<f64> {
    let span = (high - low).max(1e-9);
    let raw = span / 4.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power);
    let start = (low / step).floor() * step;
    let mut ticks = vec![];
    let mut value = start;
    while value < high + step * 0.999 {
        ticks.push((value / step).round() * step);
        if value >= high {
            break;
        }
        value += step;
    }
    ticks
}

/// The legend under a chart: one swatch per series, coloured as its bars or line.
#[component]
fn Legend(names: Vec<String>) -> impl IntoView {
    let items = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| view! { <li><span class=format!("swatch series-{i}")></span>{name}</li> })
        .collect_view();
    view! { <ul class="legend">{items}</ul> }
}

/// The chart's numbers as a table: one row per label, one column per series.
#[component]
fn NumbersTable(name: &'static str, labels: Vec<String>, series: Vec<Series>) -> impl IntoView {
    let head = series.iter().map(|s| view! { <th>{s.name.clone()}</th> }).collect_view();
    let rows = labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let cells = series
                .iter()
                .map(|s| view! { <td>{s.values.get(i).copied().flatten().map(fmt).unwrap_or_else(|| "–".into())}</td> })
                .collect_view();
            view! { <tr><th scope="row">{label.clone()}</th>{cells}</tr> }
        })
        .collect_view();
    view! {
        <details class="chart-table" data-testid="chart-table" data-chart=name>
            <summary>"Show the numbers"</summary>
            <div class="table-scroll">
                <table>
                    <thead><tr><th></th>{head}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </details>
    }
}

/// The value axis: a line, round ticks with their gridlines, the x axis along the bottom.
fn axes(ticks: Vec<f64>, y: impl Fn(f64) -> f64) -> impl IntoView {
    let marks = ticks
        .into_iter()
        .map(|t| {
            let at = format!("{:.1}", y(t));
            view! {
                <line class="grid" x1=LEFT.to_string() x2=(WIDTH - RIGHT).to_string() y1=at.clone() y2=at.clone() />
                <text class="tick" x=(LEFT - 5.0).to_string() y=format!("{:.1}", y(t) + 4.0) text-anchor="end">{fmt(t)}</text>
            }
        })
        .collect_view();
    view! {
        <g class="axes">{marks}</g>
        <line class="axis" x1=LEFT.to_string() x2=LEFT.to_string() y1=TOP.to_string() y2=(HEIGHT - BOTTOM).to_string() />
        <line class="axis" x1=LEFT.to_string() x2=(WIDTH - RIGHT).to_string() y1=(HEIGHT - BOTTOM).to_string() y2=(HEIGHT - BOTTOM).to_string() />
    }
}

/// Bars per label, the series stacked (work per day by kind), each bar's total above it.
#[component]
pub fn StackedBars(
    name: &'static str,
    title: String,
    labels: Vec<String>,
    series: Vec<Series>,
) -> impl IntoView {
    let totals: Vec<f64> = (0..labels.len())
        .map(|i| series.iter().filter_map(|s| s.values.get(i).copied().flatten()).sum())
        .collect();
    let ticks = nice_ticks(0.0, totals.iter().copied().fold(0.0, f64::max).max(1.0));
    let max = ticks.last().copied().unwrap_or(1.0);
    let plot_h = HEIGHT - BOTTOM - TOP;
    let step = (WIDTH - LEFT - RIGHT) / labels.len().max(1) as f64;
    let y = move |v: f64| TOP + plot_h - v / max * plot_h;
    let mut bars = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let mut base = 0.0;
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().flatten().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let (top, bottom) = (y(base + v), y(base));
            let tip = format!("{label}: {} {}", fmt(v), s.name);
            bars.push(
                view! {
                    <rect class=format!("series-{k}") x=format!("{:.1}", LEFT + i as f64 * step + 1.0) y=format!("{top:.1}")
                        width=format!("{:.1}", (step - 2.0).max(1.0)) height=format!("{:.1}", bottom - top)>
                        <title>{tip}</title>
                    </rect>
                }
                .into_any(),
            );
            base += v;
        }
        // The total on top, where there is room for it.
        if totals[i] > 0.0 && step >= 12.0 {
            bars.push(
                view! {
                    <text class="value" x=format!("{:.1}", LEFT + (i as f64 + 0.5) * step) y=format!("{:.1}", y(totals[i]) - 3.0)
                        text-anchor="middle">{fmt(totals[i])}</text>
                }
                .into_any(),
            );
        }
    }
    let x_labels = x_ticks(&labels, step);
    let total: f64 = totals.iter().sum();
    let legend: Vec<String> = series.iter().map(|s| s.name.clone()).collect();
    view! {
        <figure class="chart">
            <figcaption>{title.clone()}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=title data-testid="chart" data-chart=name
                data-total=fmt(total)>
                {axes(ticks, y)}
                {bars}
                {x_labels}
            </svg>
            <Legend names=legend />
            <NumbersTable name labels series />
        </figure>
    }
}

/// Lines over labels (agreement over time); `low`..`high` is the value axis. Points of
/// different series on one label are set a little apart, so none hides another.
#[component]
pub fn Lines(
    name: &'static str,
    title: String,
    labels: Vec<String>,
    series: Vec<Series>,
    low: f64,
    high: f64,
) -> impl IntoView {
    let plot_h = HEIGHT - BOTTOM - TOP;
    let step = (WIDTH - LEFT - RIGHT) / labels.len().max(1) as f64;
    let spread = (step / 4.0).min(6.0) / series.len().max(1) as f64;
    let count = series.len() as f64;
    let offset = move |k: usize| (k as f64 - (count - 1.0) / 2.0) * spread;
    let x = move |i: usize, k: usize| LEFT + (i as f64 + 0.5) * step + offset(k);
    let y = move |v: f64| TOP + plot_h - (v.clamp(low, high) - low) / (high - low) * plot_h;
    let mut marks = Vec::new();
    for (k, s) in series.iter().enumerate() {
        let points: Vec<(usize, f64)> =
            s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
        let path =
            points.iter().map(|(i, v)| format!("{:.1},{:.1}", x(*i, k), y(*v))).collect::<Vec<_>>().join(" ");
        marks
            .push(view! { <polyline class=format!("line series-{k}") points=path fill="none" /> }.into_any());
        for (i, v) in points {
            let tip = format!("{}: {} {}", labels[i], s.name, fmt(v));
            marks.push(
                view! {
                    <circle class=format!("point series-{k}") cx=format!("{:.1}", x(i, k)) cy=format!("{:.1}", y(v)) r="3.5">
                        <title>{tip}</title>
                    </circle>
                }
                .into_any(),
            );
        }
    }
    let ticks = nice_ticks(low, high).into_iter().filter(|t| *t >= low - 1e-9 && *t <= high + 1e-9).collect();
    let x_labels = x_ticks(&labels, step);
    let legend: Vec<String> = series.iter().map(|s| s.name.clone()).collect();
    view! {
        <figure class="chart">
            <figcaption>{title.clone()}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=title data-testid="chart" data-chart=name>
                {axes(ticks, y)}
                {marks}
                {x_labels}
            </svg>
            <Legend names=legend />
            <NumbersTable name labels series />
        </figure>
    }
}

/// One horizontal bar per item, each with its figure written beside it; `whiskers` are
/// optional (low, high) intervals drawn across the bars.
#[component]
pub fn HBars(
    name: &'static str,
    title: String,
    items: Vec<(String, f64)>,
    #[prop(optional)] whiskers: Vec<(f64, f64)>,
    #[prop(optional)] max: Option<f64>,
) -> impl IntoView {
    let row = 26.0;
    let label_w = 170.0;
    let height = row * items.len().max(1) as f64 + 8.0;
    let top = items
        .iter()
        .map(|(_, v)| *v)
        .chain(whiskers.iter().map(|(_, h)| *h))
        .fold(max.unwrap_or(0.0), f64::max)
        .max(1e-9);
    let width = WIDTH - label_w - 60.0;
    let scale = move |v: f64| label_w + v.max(0.0) / top * width;
    let rows = items
        .iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let y0 = 4.0 + i as f64 * row;
            let interval = whiskers.get(i).copied();
            let whisker = interval.map(|(low, high)| {
                let yy = format!("{:.1}", y0 + row / 2.0 - 1.0);
                view! { <line class="whisker" x1=format!("{:.1}", scale(low)) x2=format!("{:.1}", scale(high)) y1=yy.clone() y2=yy /> }
            });
            let right = interval.map_or(*value, |(_, high)| high.max(*value));
            let short: String = if label.chars().count() > 24 {
                label.chars().take(23).chain(['…']).collect()
            } else {
                label.clone()
            };
            view! {
                <g data-testid="bar" data-label=label.clone() data-value=fmt(*value)>
                    <text class="tick" x=(label_w - 6.0).to_string() y=format!("{:.1}", y0 + row / 2.0 + 4.0) text-anchor="end">
                        <title>{label.clone()}</title>
                        {short}
                    </text>
                    <rect class="series-0" x=label_w.to_string() y=format!("{:.1}", y0 + 3.0)
                        width=format!("{:.1}", (scale(*value) - label_w).max(0.5)) height=format!("{:.1}", row - 8.0)>
                        <title>{format!("{label}: {}", fmt(*value))}</title>
                    </rect>
                    {whisker}
                    <text class="value" x=format!("{:.1}", scale(right) + 5.0) y=format!("{:.1}", y0 + row / 2.0 + 4.0)>{fmt(*value)}</text>
                </g>
            }
        })
        .collect_view();
    let empty = items.is_empty().then(|| view! { <p class="muted">"Nothing to show yet."</p> });
    let mut columns =
        vec![Series { name: "value".into(), values: items.iter().map(|(_, v)| Some(*v)).collect() }];
    if !whiskers.is_empty() {
        columns.push(Series { name: "low".into(), values: whiskers.iter().map(|(l, _)| Some(*l)).collect() });
        columns
            .push(Series { name: "high".into(), values: whiskers.iter().map(|(_, h)| Some(*h)).collect() });
    }
    let labels: Vec<String> = items.iter().map(|(l, _)| l.clone()).collect();
    view! {
        <figure class="chart">
            <figcaption>{title.clone()}</figcaption>
            {empty}
            <svg viewBox=format!("0 0 {WIDTH} {height:.0}") role="img" aria-label=title data-testid="chart" data-chart=name>
                {rows}
            </svg>
            {(!items.is_empty()).then(|| view! { <NumbersTable name labels series=columns /> })}
        </figure>
    }
}

/// Labels along the x axis, about six of them, the last always shown and kept inside.
fn x_ticks(labels: &[String], step: f64) -> Vec<AnyView> {
    let every = labels.len().div_ceil(6).max(1);
    let last = labels.len().saturating_sub(1);
    labels
        .iter()
        .enumerate()
        .filter(|(i, _)| (i % every == 0 && last - i >= every.div_ceil(2)) || *i == last)
        .map(|(i, label)| {
            // Dates lose their year (2026-12-03 reads 12-03).
            let short = if label.len() == 10 && label.as_bytes().get(4) == Some(&b'-') {
                label[5..].to_string()
            } else {
                label.clone()
            };
            let centre = LEFT + (i as f64 + 0.5) * step;
            let anchor = if i == last && labels.len() > 1 { "end" } else { "middle" };
            let x = if anchor == "end" { (centre + step / 2.0).min(WIDTH - 2.0) } else { centre };
            view! {
                <text class="tick" x=format!("{x:.1}") y=(HEIGHT - 8.0).to_string() text-anchor=anchor>{short}</text>
            }
            .into_any()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::nice_ticks;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 4.0), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(nice_ticks(0.0, 7.0), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(nice_ticks(0.0, 130.0), vec![0.0, 50.0, 100.0, 150.0]);
        assert_eq!(nice_ticks(-1.0, 1.0), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    }
}
