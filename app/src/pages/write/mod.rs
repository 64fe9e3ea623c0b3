//! Write: a trainer writes a demonstration, playing both the user and the assistant.
//! `/write` starts one; `/write/<id>` continues it (after a reload, or on another machine).

use crate::api::conversations::{
    AddMessage, CreateConversation, EditMessage, SubmitConversation, get_conversation,
};
use crate::components::error_line::ErrorLine;
use crate::conversation::{Conversation, ConversationKind, Message, Role};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use uuid::Uuid;

/// Starts a demonstration, then goes to its page.
#[component]
pub fn WritePage() -> impl IntoView {
    let create = ServerAction::<CreateConversation>::new();
    let request_id = Uuid::new_v4().to_string();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(conversation)) = create.value().get() {
            navigate(&format!("/write/{}", conversation.id), Default::default());
        }
    });
    view! {
        <section class="card">
            <h1>"Write a demonstration"</h1>
            <p class="muted">
                "You write both sides: a user's message, the assistant's ideal reply, and so on."
            </p>
            <ActionForm action=create>
                <input type="hidden" name="request_id" value=request_id />
                <input type="hidden" name="kind" value=ConversationKind::Demonstration.as_str() />
                <label>
                    "System prompt (optional)"
                    <textarea name="system_prompt" rows="2"></textarea>
                </label>
                <button type="submit" disabled=move || create.pending().get()>"Start"</button>
            </ActionForm>
            <ErrorLine value=create.value() />
        </section>
    }
}

/// The turns of the main branch: from the first turn, the latest reply at each step.
fn main_branch(conversation: &Conversation) -> Vec<Message> {
    let mut turns = vec![];
    let mut parent = None;
    while let Some(next) = conversation.children(parent).last() {
        parent = Some(next.id);
        turns.push(next.clone());
    }
    turns
}

#[component]
pub fn DemonstrationPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| Uuid::parse_str(&id).ok());
    let add = ServerAction::<AddMessage>::new();
    let edit = ServerAction::<EditMessage>::new();
    let submit = ServerAction::<SubmitConversation>::new();
    let conversation = Resource::new(
        move || (id(), add.version().get(), edit.version().get(), submit.version().get()),
        |(id, ..)| async move {
            match id {
                Some(id) => get_conversation(id).await,
                None => Err(crate::error::ApiError::new(
                    crate::error::ErrorKind::NotFound,
                    "conversation not found",
                )),
            }
        },
    );
    view! {
        <section class="card">
            <h1>"Demonstration"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match conversation.await {
                        Ok(conversation) => view! { <Turns conversation add edit submit /> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            <ErrorLine value=add.value() />
            <ErrorLine value=edit.value() />
            <ErrorLine value=submit.value() />
        </section>
    }
}

#[component]
fn Turns(
    conversation: Conversation,
    add: ServerAction<AddMessage>,
    edit: ServerAction<EditMessage>,
    submit: ServerAction<SubmitConversation>,
) -> impl IntoView {
    let turns = main_branch(&conversation);
    let last = turns.last().map(|m| (m.id, m.role));
    let next_role = match last.map(|(_, role)| role) {
        Some(Role::User) => Role::Assistant,
        _ => Role::User,
    };
    let conversation_id = conversation.id.to_string();
    let status = format!("{} · revision {}", conversation.status.as_str(), conversation.revision);
    let rows = turns
        .into_iter()
        .map(|turn| {
            let conversation_id = conversation_id.clone();
            view! {
                <li class="turn" data-role=turn.role.as_str()>
                    <span class="who">{if turn.role == Role::User { "User" } else { "Assistant" }}</span>
                    <ActionForm action=edit attr:class="edit">
                        <input type="hidden" name="conversation_id" value=conversation_id />
                        <input type="hidden" name="message_id" value=turn.id.to_string() />
                        <textarea name="text" rows="2" aria-label=format!("{} turn", turn.role.as_str())>{turn.text.clone()}</textarea>
                        <button type="submit" class="link">"Save"</button>
                    </ActionForm>
                </li>
            }
        })
        .collect_view();
    let request_id = Uuid::new_v4().to_string();
    let (add_to, submit_id) = (conversation_id.clone(), conversation_id);
    let label = format!("Next turn: {}", if next_role == Role::User { "the user" } else { "the assistant" });
    view! {
        <p class="muted" data-testid="status">{status}</p>
        {conversation.system_prompt.map(|p| view! { <p class="muted">"System: " {p}</p> })}
        <ol class="turns">{rows}</ol>
        <ActionForm action=add>
            <input type="hidden" name="conversation_id" value=add_to />
            <input type="hidden" name="request_id" value=request_id />
            {last.map(|(parent, _)| view! { <input type="hidden" name="parent_id" value=parent.to_string() /> })}
            <input type="hidden" name="role" value=next_role.as_str() />
            <label>{label} <textarea name="text" rows="3" required></textarea></label>
            <button type="submit" disabled=move || add.pending().get()>"Add turn"</button>
        </ActionForm>
        <ActionForm action=submit>
            <input type="hidden" name="conversation_id" value=submit_id />
            <button type="submit" disabled=move || submit.pending().get()>"Submit"</button>
        </ActionForm>
    }
}
