//! The turns written so far: read as Markdown, edited as plain text (saved as the trainer
//! types), deleted, and moved a user turn and its reply at a time.

use super::WriteState;
use super::composer::suggestion_note;
use crate::api::conversations::{EditMessage, RearrangeTurns};
use crate::components::debounce::Debounce;
use crate::components::error_line::ErrorLine;
use crate::components::markdown::Markdown;
use crate::conversation::{Conversation, Message, Role};
use leptos::prelude::*;
use uuid::Uuid;

/// The order after moving the exchange (user turn and its reply) that starts at `index` one
/// exchange up or down; none when it cannot move.
fn moved(ids: &[Uuid], index: usize, up: bool) -> Option<Vec<Uuid>> {
    let mut exchanges: Vec<Vec<Uuid>> = ids.chunks(2).map(<[Uuid]>::to_vec).collect();
    let at = index / 2;
    let other = if up { at.checked_sub(1)? } else { at + 1 };
    // Only whole exchanges move: a last user turn without its reply stays last.
    if other >= exchanges.len() || exchanges[at].len() < 2 || exchanges[other].len() < 2 {
        return None;
    }
    exchanges.swap(at, other);
    Some(exchanges.concat())
}

#[component]
pub fn Turns(conversation: Conversation, turns: Vec<Message>, state: WriteState) -> impl IntoView {
    let edit = ServerAction::<EditMessage>::new();
    let editing = RwSignal::new(None::<Uuid>);
    // The turn whose Delete was pressed: it asks once before deleting.
    let confirming = RwSignal::new(None::<Uuid>);
    let conversation_id = conversation.id;
    let ids: Vec<Uuid> = turns.iter().map(|m| m.id).collect();
    let rows = turns
        .into_iter()
        .enumerate()
        .map(|(index, turn)| {
            let ids = ids.clone();
            let id = turn.id;
            let who = if turn.role == Role::User { "User" } else { "Assistant" };
            let text = RwSignal::new(turn.text.clone());
            let note = suggestion_note(&turn);
            let autosave = Debounce::new(600);
            let on_input = move |ev: leptos::ev::Event| {
                text.set(event_target_value(&ev));
                autosave.call(move || {
                    edit.dispatch(EditMessage { conversation_id, message_id: id, text: text.get_untracked() });
                });
            };
            let without = ids.iter().copied().filter(|m| *m != id).collect::<Vec<_>>();
            let delete = move |_| {
                confirming.set(None);
                state.rearrange.dispatch(RearrangeTurns { conversation_id, order: without.clone() });
            };
            let up = moved(&ids, index, true);
            let down = moved(&ids, index, false);
            let move_button = |order: Option<Vec<Uuid>>, label: &'static str| {
                order.map(|order| {
                    view! {
                        <button type="button" class="link" on:click=move |_| {
                            state.rearrange.dispatch(RearrangeTurns { conversation_id, order: order.clone() });
                        }>{label}</button>
                    }
                })
            };
            view! {
                <li class="turn" id=format!("turn-{index}") data-role=turn.role.as_str() tabindex="-1">
                    <div class="turn-head">
                        <span class="who">{who}</span>
                        <span class="turn-actions">
                            <button type="button" class="link"
                                on:click=move |_| editing.update(|e| *e = if *e == Some(id) { None } else { Some(id) })>
                                {move || if editing.get() == Some(id) { "Done" } else { "Edit" }}
                            </button>
                            {move_button(up, "Move up")}
                            {move_button(down, "Move down")}
                            <button type="button" class="link danger" on:click=move |_| confirming.set(Some(id))>
                                "Delete"
                            </button>
                        </span>
                    </div>
                    <Show when=move || confirming.get() == Some(id)>
                        <p class="confirm" role="alert" data-testid="confirm-delete">
                            {format!("Delete this {} turn? It cannot be brought back. ", who.to_lowercase())}
                            <button type="button" class="danger" on:click=delete.clone()>"Yes, delete it"</button>
                            " "
                            <button type="button" class="secondary" on:click=move |_| confirming.set(None)>"Keep it"</button>
                        </p>
                    </Show>
                    <Show
                        when=move || editing.get() == Some(id)
                        fallback=move || view! { <Markdown text=text /> }
                    >
                        <textarea
                            rows="4"
                            aria-label=format!("{} turn", turn.role.as_str())
                            prop:value=move || text.get()
                            on:input=on_input
                        ></textarea>
                    </Show>
                    {note.map(|n| view! { <p class="muted small">{n}</p> })}
                </li>
            }
        })
        .collect_view();
    view! {
        <ol class="turns">{rows}</ol>
        <p class="muted save-state" data-testid="edit-state">
            {move || if edit.pending().get() { "Saving…" } else if matches!(edit.value().get(), Some(Ok(_))) { "Edits saved" } else { "" }}
        </p>
        <ErrorLine value=edit.value() />
    }
}

#[cfg(test)]
mod tests {
    use super::moved;
    use uuid::Uuid;

    #[test]
    fn exchanges_move_whole() {
        let ids: Vec<Uuid> = (0..5u128).map(Uuid::from_u128).collect();
        let order = |o: Vec<Uuid>| o.iter().map(|u| u.as_u128()).collect::<Vec<_>>();
        assert_eq!(order(moved(&ids, 2, true).unwrap()), [2, 3, 0, 1, 4]);
        assert_eq!(order(moved(&ids, 0, false).unwrap()), [2, 3, 0, 1, 4]);
        assert!(moved(&ids, 0, true).is_none());
        // The last user turn has no reply yet: it does not move, nor does its neighbour swap with it.
        assert!(moved(&ids, 2, false).is_none());
        assert!(moved(&ids, 4, true).is_none());
    }
}
