//! Rank: a trainer is given one comparison at a time (a lease that expires), reads the shared
//! context, and orders the K completions best first, ties allowed, by keyboard or by drag;
//! or says they cannot rank them. `/rank` gives the next comparison, `/rank/<id>` opens one
//! the trainer ranked before, to revise.

use crate::api::rank::{SaveRankDraft, SkipComparison, SubmitRanking, get_rank_task, my_rankings};
use crate::comparison::{LABELS, RankDraft, RankTask, ShownCompletion};
use crate::components::debounce::Debounce;
use crate::components::error_line::ErrorLine;
use crate::components::feedback_bar::{FeedbackBar, FeedbackCategories};
use crate::components::guidelines::GuidelinesPanel;
use crate::components::markdown::Markdown;
use crate::components::shortcuts::{Key, ShortcutHelp, focus, typing, use_keys};
use crate::feedback::FeedbackTarget;
use crate::ranking::Board;
use leptos::ev::{DragEvent, KeyboardEvent};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use std::collections::BTreeMap;
use uuid::Uuid;

pub const RANK_KEYS: &[Key] = &[
    Key {
        keys: "1 … 9",
        does: "Put the focused completion at that place, whatever is placed already (the same number ties)",
    },
    Key { keys: "0 / Backspace", does: "Take the focused completion's place away" },
    Key { keys: "Alt+↑ / Alt+↓", does: "Move the focused completion up / down one step (through ties)" },
    Key { keys: "↑ / ↓", does: "Go to the previous / next completion" },
    Key { keys: "Ctrl+Enter", does: "Submit and go to the next comparison" },
];

#[component]
pub fn RankPage() -> impl IntoView {
    FeedbackCategories::provide();
    let params = use_params_map();
    let revising = move || params.read().get("id").and_then(|id| Uuid::parse_str(&id).ok());
    let submit = ServerAction::<SubmitRanking>::new();
    let skip = ServerAction::<SkipComparison>::new();
    let task = Resource::new(
        move || (revising(), submit.version().get(), skip.version().get()),
        |(id, ..)| get_rank_task(id),
    );
    let mine = Resource::new(move || (submit.version().get(), skip.version().get()), |_| my_rankings());
    // A revision done, the next comparison is waiting.
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = submit.value().get()
            && revising().is_some()
        {
            navigate("/rank", Default::default());
        }
    });
    view! {
        <div class="rank-page">
            <section class="card rank">
                <div class="rank-top">
                    <h1>"Rank"</h1>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            mine.await.ok().map(|(progress, _)| view! {
                                <p class="muted" data-testid="rank-progress">
                                    "Ranked today: " {progress.done_today} " · Left in the queue: " {progress.queue_left_text()}
                                </p>
                            })
                        })}
                    </Transition>
                </div>
                <GuidelinesPanel area="rank" />
                <Transition fallback=|| view! { <p>"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match task.await {
                            Ok(Some(task)) => view! { <RankBoard task submit skip /> }.into_any(),
                            Ok(None) => view! {
                                <p data-testid="queue-empty">
                                    "Nothing to rank right now: every comparison open to you is ranked or held. "
                                    "New ones arrive when an admin creates a batch."
                                </p>
                            }
                            .into_any(),
                            Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
            <section class="card">
                <h2>"Your rankings"</h2>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let items = mine.await.map(|(_, items)| items).unwrap_or_default();
                        if items.is_empty() {
                            return view! { <p class="muted">"None yet."</p> }.into_any();
                        }
                        let rows = items
                            .into_iter()
                            .map(|item| {
                                let title = if item.title.is_empty() { "(no context)".to_string() } else { item.title };
                                view! {
                                    <li data-testid="ranked-item">
                                        <a href=format!("/rank/{}", item.comparison_id)>{title}</a>
                                        <span class="muted">
                                            {format!(" · revision {}", item.revision)}
                                            {item.cannot_rank.then_some(" · could not rank")}
                                        </span>
                                    </li>
                                }
                            })
                            .collect_view();
                        view! { <ul class="plain">{rows}</ul> }.into_any()
                    })}
                </Transition>
            </section>
        </div>
    }
}

/// Where a dragged completion was dropped.
#[derive(Clone, Copy)]
enum Drop {
    /// On another card: just above it.
    Above(Uuid),
    /// On an empty place.
    Place(usize),
    /// On "the last place".
    Last,
}

/// One comparison on the board: context, the completions in places, labels, rationale.
#[component]
fn RankBoard(
    task: RankTask,
    submit: ServerAction<SubmitRanking>,
    skip: ServerAction<SkipComparison>,
) -> impl IntoView {
    let comparison_id = task.comparison_id;
    let shown: Vec<Uuid> = task.completions.iter().map(|c| c.id).collect();
    let previous = task.previous.clone();
    // An unsubmitted board left here before comes back first; else the ranking being revised.
    let task_has_draft = task.draft.is_some();
    let start = task.draft.clone().unwrap_or_else(|| match &previous {
        Some(p) => RankDraft {
            board: p.ranking.as_ref().map_or_else(|| Board::new(&shown), Board::from_ranking),
            labels: p.labels.clone(),
            rationale: p.rationale.clone(),
            cannot_rank: p.cannot_rank.clone(),
        },
        None => RankDraft { board: Board::new(&shown), ..RankDraft::default() },
    });
    let board = RwSignal::new(start.board);
    let labels = RwSignal::new(start.labels);
    let rationale = RwSignal::new(start.rationale);
    let cannot = RwSignal::new(start.cannot_rank.is_some());
    let reason = RwSignal::new(start.cannot_rank.unwrap_or_default());
    let dragged = RwSignal::new(None::<Uuid>);
    // The cards are drawn once, so each bar keeps its own feedback from here on.
    let my_feedback = StoredValue::new(task.my_feedback.clone());
    // One id per submit of this board, so a double-clicked or retried submit stores one.
    let request_id = StoredValue::new(Uuid::new_v4());
    let letters: StoredValue<BTreeMap<Uuid, char>> =
        StoredValue::new(shown.iter().enumerate().map(|(i, id)| (*id, (b'A' + i as u8) as char)).collect());
    let letter_of = move |id: Uuid| letters.with_value(|l| l.get(&id).copied().unwrap_or('?'));
    let ready = move || {
        if cannot.get() { !reason.get().trim().is_empty() } else { board.with(Board::complete) }
    };
    let save_draft = ServerAction::<SaveRankDraft>::new();
    let autosave = Debounce::new(700);
    let shown_order = shown.clone();
    let send = move || {
        if !ready() || submit.pending().get_untracked() {
            return;
        }
        // Submitted, the board needs no draft (the server deletes the one it has).
        autosave.cancel();
        submit.dispatch(SubmitRanking {
            request_id: request_id.get_value(),
            comparison_id,
            ranking: if cannot.get_untracked() { vec![] } else { board.get_untracked().ranking().groups },
            shown: shown_order.clone(),
            labels: labels.get_untracked(),
            rationale: rationale.get_untracked(),
            cannot_rank: cannot.get_untracked().then(|| reason.get_untracked()),
        });
    };
    let send_key = send.clone();
    use_keys(move |ev| {
        if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
            ev.prevent_default();
            send_key();
        }
    });
    // A failed submit keeps its id for the retry; any answer but an error is final.
    Effect::new(move |_| {
        if let Some(Err(_)) = submit.value().get() {
            return;
        }
        request_id.set_value(Uuid::new_v4());
    });

    // The board is kept on the server as the trainer works (a moment after each change).
    Effect::new(move |first: Option<()>| {
        let draft = RankDraft {
            board: board.get(),
            labels: labels.get(),
            rationale: rationale.get(),
            cannot_rank: cannot.get().then(|| reason.get()),
        };
        if first.is_some() && !submit.pending().get_untracked() {
            autosave.call(move || {
                save_draft.dispatch(SaveRankDraft { comparison_id, draft });
            });
        }
    });
    let draft_state = move || {
        if save_draft.pending().get() {
            "Saving the board…".to_string()
        } else {
            match save_draft.value().get() {
                Some(Ok(())) => "Board saved: a reload keeps it".to_string(),
                Some(Err(err)) => format!("Board not saved ({})", err.message),
                None if task_has_draft => "Your unsubmitted board, as you left it".to_string(),
                None => String::new(),
            }
        }
    };

    let shown_keys = StoredValue::new(shown.clone());
    let on_key = move |ev: KeyboardEvent, id: Uuid| {
        if typing(&ev) || ev.ctrl_key() || ev.meta_key() {
            return;
        }
        let key = ev.key();
        let digit = key.parse::<usize>().ok().filter(|d| key.len() == 1 && *d <= 9);
        match (key.as_str(), digit) {
            (_, Some(0)) | ("Backspace", _) | ("Delete", _) => board.update(|b| b.unplace(id)),
            (_, Some(place)) if !ev.alt_key() => board.update(|b| b.place(id, place)),
            ("ArrowUp", _) if ev.alt_key() => board.update(|b| b.raise(id)),
            ("ArrowDown", _) if ev.alt_key() => board.update(|b| b.lower(id)),
            ("ArrowUp" | "ArrowDown", _) => {
                // The cards stay in the order shown (A, B, …); the board beside them moves.
                let order = shown_keys.get_value();
                let at = order.iter().position(|x| *x == id).unwrap_or(0);
                let next =
                    if key == "ArrowUp" { at.saturating_sub(1) } else { (at + 1).min(order.len() - 1) };
                ev.prevent_default();
                focus(&format!("completion-{}", order[next]));
                return;
            }
            _ => return,
        }
        // The cards stay where they are (only the board changes): the focus stays on this one.
        ev.prevent_default();
    };
    let on_drop = move |ev: DragEvent, target: Drop| {
        ev.prevent_default();
        if let Some(id) = dragged.get_untracked() {
            board.update(|b| match target {
                Drop::Above(target) => b.drop_above(id, target),
                Drop::Place(place) => b.place(id, place),
                Drop::Last => b.place_last(id),
            });
        }
        dragged.set(None);
    };

    let card = move |completion: ShownCompletion| {
        let ShownCompletion { id, text, cut_off } = completion;
        let letter = letter_of(id);
        // A text cut off mid-way may leave Markdown open (`**`): it is closed for showing.
        let text = if cut_off { crate::markdown::close_unfinished(&text) } else { text };
        let place = move || match board.with(|b| b.place_of(id)) {
            Some(place) => format!("place {place}"),
            None => "not placed".to_string(),
        };
        let label_boxes = LABELS
            .iter()
            .map(|label| {
                let checked =
                    move || labels.with(|l| l.get(&id).is_some_and(|names| names.iter().any(|n| n == label)));
                view! {
                    <label class="inline">
                        <input type="checkbox" prop:checked=checked
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                labels.update(|l| {
                                    let names = l.entry(id).or_default();
                                    names.retain(|n| n != label);
                                    if on {
                                        names.push(label.to_string());
                                    }
                                });
                            } />
                        {*label}
                    </label>
                }
            })
            .collect_view();
        view! {
            <article class="completion" tabindex="0" draggable="true" id=format!("completion-{id}")
                data-testid="completion" data-letter=letter.to_string()
                aria-label=move || format!("Completion {letter}, {}", place())
                on:keydown=move |ev| on_key(ev, id)
                on:dragstart=move |_: DragEvent| dragged.set(Some(id))
                on:dragover=move |ev: DragEvent| ev.prevent_default()
                on:drop=move |ev| on_drop(ev, Drop::Above(id))>
                <header>
                    <strong>{letter.to_string()}</strong>
                    <span class="muted" data-testid="place">{place}</span>
                    <span class="card-buttons">
                        <button type="button" class="link" aria-label=format!("Move {letter} up")
                            on:click=move |_| board.update(|b| b.raise(id))>"↑"</button>
                        <button type="button" class="link" aria-label=format!("Move {letter} down")
                            on:click=move |_| board.update(|b| b.lower(id))>"↓"</button>
                    </span>
                </header>
                <Markdown text=text />
                {cut_off.then(|| view! {
                    <p class="muted small" data-testid="cut-off">"Cut off: the model reached the batch's token limit here."</p>
                })}
                <div class="labels">{label_boxes}</div>
                {
                    let target = FeedbackTarget::Completion { id };
                    let initial = my_feedback.with_value(|all| all.iter().find(|f| f.target == target).cloned());
                    view! { <FeedbackBar target initial noun="completion" /> }
                }
            </article>
        }
    };

    let context = task
        .context
        .iter()
        .map(|turn| {
            view! {
                <li class="turn" data-role=turn.role.as_str()>
                    <span class="who">{turn.role.as_str()}</span>
                    <Markdown text=turn.text.clone() />
                </li>
            }
        })
        .collect_view();
    let turns = task.context.len();
    let system = task.system_prompt.clone().map(|s| view! { <p class="muted">"System prompt: " {s}</p> });
    let lease = task.lease_expires_at.clone().map(|until| {
        view! { <p class="muted">"Yours until " {crate::pages::short_time(&until)} "; then it goes back to the queue."</p> }
    });
    let revision = previous.as_ref().map(|p| {
        view! { <p class="muted">"Revising your ranking (revision " {p.revision} "); the earlier one is kept."</p> }
    });
    let send_board = send.clone();
    // A letter on the board, dragged like its card; a drop on it takes its place.
    let chip = move |id: Uuid| {
        let letter = letter_of(id);
        view! {
            <span class="chip" draggable="true" data-chip=letter.to_string()
                title=format!("Completion {letter}: drag to move it")
                on:dragstart=move |_: DragEvent| dragged.set(Some(id))
                on:dragover=move |ev: DragEvent| ev.prevent_default()
                on:drop=move |ev: DragEvent| {
                    ev.stop_propagation();
                    on_drop(ev, Drop::Above(id))
                }>
                {letter.to_string()}
            </span>
        }
    };
    view! {
        <div data-testid="rank-task" data-comparison=comparison_id.to_string()>
            {lease}
            {revision}
            <details class="context" open>
                <summary>{format!("Context ({turns} turns)")}</summary>
                {system}
                <ol class="turns">{context}</ol>
            </details>
            // A div, not a p: the help holds a dialog (a div), which a p cannot hold.
            <div class="muted rank-hint">
                "Order the completions best first. Focus one and press its place (1–9: 4 is fourth "
                "even with nothing placed yet; the same number ties), or drag it (or its letter on "
                "the board) onto a place, or onto another to take that one's place. Empty places "
                "close up when you drag or step. " <ShortcutHelp keys=RANK_KEYS />
            </div>
            <div class="rank-layout">
                <div class="rank-read" data-testid="completions">
                    {task.completions.into_iter().map(card).collect_view()}
                </div>
                <aside class="rank-board" aria-label="Your ranking">
                    <h2>"Your ranking"</h2>
                    <ol class="rank-groups" data-testid="ranking">
                        {move || {
                            board
                                .get()
                                .groups
                                .into_iter()
                                .enumerate()
                                .map(|(i, group)| {
                                    let place = i + 1;
                                    let (class, testid) = if group.is_empty() {
                                        ("rank-group empty", "empty-place")
                                    } else {
                                        ("rank-group", "board-place")
                                    };
                                    view! {
                                        <li class=class data-place=place data-testid=testid
                                            on:dragover=move |ev: DragEvent| ev.prevent_default()
                                            on:drop=move |ev| on_drop(ev, Drop::Place(place))>
                                            <span class="place-number">{place}</span>
                                            <span class="chips">
                                                {if group.is_empty() {
                                                    view! { <span class="muted">"empty: press " {place} " on a completion, or drop one here"</span> }.into_any()
                                                } else {
                                                    group.into_iter().map(chip).collect_view().into_any()
                                                }}
                                            </span>
                                        </li>
                                    }
                                })
                                .collect_view()
                        }}
                    </ol>
                    <div class="drop-last" data-testid="drop-last"
                        on:dragover=move |ev: DragEvent| ev.prevent_default()
                        on:drop=move |ev| on_drop(ev, Drop::Last)>
                        "Drop here for the last place"
                    </div>
                    <Show when=move || board.with(|b| !b.unranked.is_empty())>
                        <p class="unplaced" data-testid="unranked">
                            "Not placed: " {move || board.get().unranked.into_iter().map(chip).collect_view()}
                        </p>
                    </Show>
                    <Show when=move || !cannot.get() && !ready()>
                        <p class="muted" data-testid="rank-missing">
                            {move || board.with(|b| b.missing(letter_of))}
                        </p>
                    </Show>
                    <div class="row">
                        <button type="button" disabled=move || !ready() || submit.pending().get()
                            on:click=move |_| send_board()>"Submit ranking"</button>
                    </div>
                    <p class="muted small" data-testid="draft-state">{draft_state}</p>
                </aside>
            </div>
            <label>
                "Rationale (optional)"
                <textarea rows="2" prop:value=move || rationale.get()
                    on:input=move |ev| rationale.set(event_target_value(&ev))></textarea>
            </label>
            <div class="cannot-rank">
                <label class="inline">
                    <input type="checkbox" prop:checked=move || cannot.get()
                        on:change=move |ev| cannot.set(event_target_checked(&ev)) />
                    "None is acceptable / I cannot rank these"
                </label>
                <Show when=move || cannot.get()>
                    <label>
                        "Why"
                        <input type="text" maxlength="1000" prop:value=move || reason.get()
                            placeholder="e.g. all of them are wrong; outside what I can judge"
                            on:input=move |ev| reason.set(event_target_value(&ev)) />
                    </label>
                </Show>
            </div>
            <div class="row">
                {task.lease_expires_at.is_some().then(|| view! {
                    <button type="button" class="secondary" disabled=move || skip.pending().get()
                        on:click=move |_| { skip.dispatch(SkipComparison { comparison_id }); }>"Skip"</button>
                })}
            </div>
            <ErrorLine value=submit.value() />
            <ErrorLine value=skip.value() />
        </div>
    }
}
