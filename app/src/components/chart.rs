//! Charts drawn as SVG while the page renders on the server, so they read without JavaScript;
//! each bar and point carries its figure as a tooltip, and a legend names the series.

use crate::stats::Series;
use leptos::prelude::*;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

fn fmt(value: f64) -> String {
    if value.fract().abs() < 1e-9 { format!("{value:.0}") } else { format!("{value:.2}") }
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

/// Bars per label, the series stacked (work per day by kind).
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
    let max = totals.iter().copied().fold(0.0, f64::max).max(1.0);
    let plot_h = HEIGHT - BOTTOM - TOP;
    let step = (WIDTH - LEFT) / labels.len().max(1) as f64;
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
            bars.push(view! {
                <rect class=format!("series-{k}") x=format!("{:.1}", LEFT + i as f64 * step + 1.0) y=format!("{top:.1}")
                    width=format!("{:.1}", (step - 2.0).max(1.0)) height=format!("{:.1}", bottom - top)>
                    <title>{tip}</title>
                </rect>
            });
            base += v;
        }
    }
    let ticks = x_ticks(&labels, step);
    let total: f64 = totals.iter().sum();
    view! {
        <figure class="chart">
            <figcaption>{title.clone()}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=title data-testid="chart" data-chart=name
                data-total=fmt(total)>
                <Axes max=fmt(max) />
                {bars}
                {ticks}
            </svg>
            <Legend names=series.iter().map(|s| s.name.clone()).collect() />
        </figure>
    }
}

/// Lines over labels (agreement over time); `low`..`high` is the value axis.
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
    let step = (WIDTH - LEFT) / labels.len().max(1) as f64;
    let x = move |i: usize| LEFT + (i as f64 + 0.5) * step;
    let y = move |v: f64| TOP + plot_h - (v.clamp(low, high) - low) / (high - low) * plot_h;
    let mut marks = Vec::new();
    for (k, s) in series.iter().enumerate() {
        let points: Vec<(usize, f64)> =
            s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
        let path =
            points.iter().map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v))).collect::<Vec<_>>().join(" ");
        marks
            .push(view! { <polyline class=format!("line series-{k}") points=path fill="none" /> }.into_any());
        for (i, v) in points {
            let tip = format!("{}: {} {}", labels[i], s.name, fmt(v));
            marks.push(
                view! {
                    <circle class=format!("series-{k}") cx=format!("{:.1}", x(i)) cy=format!("{:.1}", y(v)) r="3">
                        <title>{tip}</title>
                    </circle>
                }
                .into_any(),
            );
        }
    }
    let zero = (low < 0.0).then(|| {
        view! { <line class="zero" x1=LEFT.to_string() x2=WIDTH.to_string() y1=format!("{:.1}", y(0.0)) y2=format!("{:.1}", y(0.0)) /> }
    });
    let ticks = x_ticks(&labels, step);
    view! {
        <figure class="chart">
            <figcaption>{title.clone()}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=title data-testid="chart" data-chart=name>
                <Axes max=fmt(high) />
                <text class="tick" x=(LEFT - 4.0).to_string() y=format!("{:.1}", HEIGHT - BOTTOM) text-anchor="end">{fmt(low)}</text>
                {zero}
                {marks}
                {ticks}
            </svg>
            <Legend names=series.iter().map(|s| s.name.clone()).collect() />
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
    let row = 22.0;
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
            let whisker = whiskers.get(i).map(|(low, high)| {
                let yy = format!("{:.1}", y0 + row / 2.0 - 1.0);
                view! { <line class="whisker" x1=format!("{:.1}", scale(*low)) x2=format!("{:.1}", scale(*high)) y1=yy.clone() y2=yy /> }
            });
            view! {
                <g data-testid="bar" data-label=label.clone() data-value=fmt(*value)>
                    <text class="tick" x=(label_w - 6.0).to_string() y=format!("{:.1}", y0 + row / 2.0 + 3.0) text-anchor="end">{label.clone()}</text>
                    <rect class="series-0" x=label_w.to_string() y=format!("{:.1}", y0 + 3.0)
                        width=format!("{:.1}", (scale(*value) - label_w).max(0.5)) height=format!("{:.1}", row - 8.0)>
                        <title>{format!("{label}: {}", fmt(*value))}</title>
                    </rect>
                    {whisker}
                    <text class="tick" x=format!("{:.1}", scale(*value) + 4.0) y=format!("{:.1}", y0 + row / 2.0 + 3.0)>{fmt(*value)}</text>
                </g>
            }
        })
        .collect_view();
    let empty = items.is_empty().then(|| view! { <p class="muted">"Nothing to show yet."</p> });
    view! {
        <figure class="chart">
            <figcaption>{title.clone()}</figcaption>
            {empty}
            <svg viewBox=format!("0 0 {WIDTH} {height:.0}") role="img" aria-label=title data-testid="chart" data-chart=name>
                {rows}
            </svg>
        </figure>
    }
}

#[component]
fn Axes(max: String) -> impl IntoView {
    view! {
        <line class="axis" x1=LEFT.to_string() x2=LEFT.to_string() y1=TOP.to_string() y2=(HEIGHT - BOTTOM).to_string() />
        <line class="axis" x1=LEFT.to_string() x2=WIDTH.to_string() y1=(HEIGHT - BOTTOM).to_string() y2=(HEIGHT - BOTTOM).to_string() />
        <text class="tick" x=(LEFT - 4.0).to_string() y=(TOP + 8.0).to_string() text-anchor="end">{max}</text>
    }
}

/// Labels along the x axis, about six of them, the last always shown.
fn x_ticks(labels: &[String], step: f64) -> Vec<AnyView> {
    let every = labels.len().div_ceil(6).max(1);
    labels
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0 || *i + 1 == labels.len())
        .map(|(i, label)| {
            let short = label.get(5..).unwrap_or(label).to_string();
            view! {
                <text class="tick" x=format!("{:.1}", LEFT + (i as f64 + 0.5) * step) y=(HEIGHT - 8.0).to_string() text-anchor="middle">{short}</text>
            }
            .into_any()
        })
        .collect()
}
