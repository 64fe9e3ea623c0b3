use super::{AdminTabs, short_time};
use crate::api::keys::{CreateApiKey, RevokeApiKey, list_api_keys};
use crate::components::error_line::ErrorLine;
use crate::domain::ApiKey;
use leptos::prelude::*;
use uuid::Uuid;

/// Keys for the OpenAI-compatible API at /v1: make one (its secret is shown once), revoke.
#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_api_keys());
    let request_id = Memo::new(move |_| {
        create.version().track();
        Uuid::new_v4().to_string()
    });
    let secret = move || {
        create.value().with(|v| match v {
            Some(Ok(made)) => Some((made.key.name.clone(), made.secret.clone())),
            _ => None,
        })
    };
    view! {
        <AdminTabs />
        <section class="card">
            <h1>"API keys"</h1>
            <p class="muted">
                "Programs call Parley's OpenAI-compatible API at " <code>"/v1/chat/completions"</code>
                " and " <code>"/v1/models"</code> " with " <code>"Authorization: Bearer <key>"</code> "."
            </p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Ok(keys) => view! { <KeyTable keys revoke /> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            <ErrorLine value=revoke.value() />
        </section>
        <section class="card narrow">
            <h2>"New key"</h2>
            <ActionForm action=create>
                <input type="hidden" name="request_id" value=request_id />
                <label>"Name (who or what uses it)" <input name="name" required maxlength="100" /></label>
                <button type="submit" disabled=move || create.pending().get()>"Create key"</button>
            </ActionForm>
            {move || secret().map(|(name, secret)| view! {
                <div class="notice" role="status">
                    <p>{format!("Key \u{201c}{name}\u{201d} made. Copy it now: it is not shown again.")}</p>
                    <code data-testid="new-key">{secret}</code>
                </div>
            })}
            <ErrorLine value=create.value() />
        </section>
    }
}

#[component]
fn KeyTable(keys: Vec<ApiKey>, revoke: ServerAction<RevokeApiKey>) -> impl IntoView {
    if keys.is_empty() {
        return view! { <p class="muted">"No keys yet."</p> }.into_any();
    }
    let rows =
        keys.into_iter()
            .map(|key| {
                let state = match &key.revoked_at {
                    Some(at) => view! { <span class="muted">{format!("revoked {}", short_time(at))}</span> }
                        .into_any(),
                    None => view! {
                        <ActionForm action=revoke attr:class="inline">
                            <input type="hidden" name="key_id" value=key.id.to_string() />
                            <button type="submit">"Revoke"</button>
                        </ActionForm>
                    }
                    .into_any(),
                };
                view! {
                    <tr>
                        <td>{key.name.clone()}</td>
                        <td class="muted">{short_time(&key.created_at)}</td>
                        <td>{state}</td>
                    </tr>
                }
            })
            .collect_view();
    view! {
        <table data-testid="api-keys">
            <thead><tr><th>"Name"</th><th>"Created"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
