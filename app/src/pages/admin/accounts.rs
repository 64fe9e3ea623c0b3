use crate::api::users::{CreateUser, ResetPassword, SetActive, SetRole, list_users};
use crate::components::error_line::ErrorLine;
use crate::components::new_credentials::NewCredentials;
use crate::domain::{Role, User};
use leptos::prelude::*;
use uuid::Uuid;

use super::{AdminTabs, short_time};

/// Admins manage accounts: create them with a first password, change roles, deactivate
/// and reactivate them, and give someone a one-time password.
#[component]
pub fn AdminPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let set_role = ServerAction::<SetRole>::new();
    let actions = AccountActions { set_role, set_active: ServerAction::new(), reset: ServerAction::new() };
    let users = Resource::new(
        move || {
            (
                create.version().get(),
                set_role.version().get(),
                actions.set_active.version().get(),
                actions.reset.version().get(),
            )
        },
        |_| list_users(),
    );
    let one_time = move || {
        actions.reset.value().get().and_then(Result::ok).map(|made| {
            view! {
                <div class="notice" role="status" data-testid="one-time-password">
                    <p>{format!("One-time password for {}:", made.email)}</p>
                    <p><code>{made.password}</code></p>
                    <p class="muted">"Pass it on now: it is not shown again. Their sessions have ended, and after signing in with it they choose their own."</p>
                </div>
            }
        })
    };
    view! {
        <AdminTabs />
        <section class="card">
            <h1>"Accounts"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(users) => view! { <UserTable users actions /> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            {one_time}
            <ErrorLine value=set_role.value() />
            <ErrorLine value=actions.set_active.value() />
            <ErrorLine value=actions.reset.value() />
        </section>
        <CreateUserForm create />
    }
}

/// What an admin does to an existing account.
#[derive(Clone, Copy)]
struct AccountActions {
    set_role: ServerAction<SetRole>,
    set_active: ServerAction<SetActive>,
    reset: ServerAction<ResetPassword>,
}

#[component]
fn UserTable(users: Vec<User>, actions: AccountActions) -> impl IntoView {
    let rows = users
        .into_iter()
        .map(|user| {
            let active = user.deactivated_at.is_none();
            let status = match (&user.deactivated_at, user.must_change_password) {
                (Some(at), _) => format!("deactivated {}", short_time(at)),
                (None, true) => "active · one-time password".to_string(),
                (None, false) => "active".to_string(),
            };
            let role_label = format!("Role of {}", user.email);
            let reset_label = format!("One-time password for {}", user.email);
            let (toggle, toggle_label) = if active {
                ("false", format!("Deactivate {}", user.email))
            } else {
                ("true", format!("Reactivate {}", user.email))
            };
            view! {
                <tr data-testid="user-row" data-email=user.email.clone()>
                    <td>{user.email.clone()}</td>
                    <td>
                        <ActionForm action=actions.set_role attr:class="inline">
                            <input type="hidden" name="user_id" value=user.id.to_string() />
                            <RoleSelect selected=user.role label=role_label />
                            <button type="submit">"Change"</button>
                        </ActionForm>
                    </td>
                    <td data-testid="user-status">{status}</td>
                    <td class="row">
                        <ActionForm action=actions.set_active attr:class="inline">
                            <input type="hidden" name="user_id" value=user.id.to_string() />
                            <input type="hidden" name="active" value=toggle />
                            <button type="submit" class="secondary" aria-label=toggle_label>
                                {if active { "Deactivate" } else { "Reactivate" }}
                            </button>
                        </ActionForm>
                        <ActionForm action=actions.reset attr:class="inline">
                            <input type="hidden" name="user_id" value=user.id.to_string() />
                            <button type="submit" class="secondary" aria-label=reset_label>
                                "Set one-time password"
                            </button>
                        </ActionForm>
                    </td>
                    <td class="muted" title=user.created_at.clone()>{short_time(&user.created_at)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table data-testid="users">
                <thead><tr><th>"E-mail"</th><th>"Role"</th><th>"Status"</th><th>"Account"</th><th>"Created"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn RoleSelect(selected: Role, label: String) -> impl IntoView {
    let options = Role::ALL
        .into_iter()
        .map(|role| view! { <option value=role.as_str() selected=role == selected>{role.as_str()}</option> })
        .collect_view();
    view! { <select name="role" aria-label=label>{options}</select> }
}

#[component]
fn CreateUserForm(create: ServerAction<CreateUser>) -> impl IntoView {
    // A fresh id after each account made; retries of one submit reuse the same id.
    let request_id = Memo::new(move |_| {
        create.version().track();
        Uuid::new_v4().to_string()
    });
    let created = move || {
        create.value().with(|v| match v {
            Some(Ok(user)) => Some(format!("Created {} as {}", user.email, user.role)),
            _ => None,
        })
    };
    view! {
        <section class="card narrow">
            <h2>"New account"</h2>
            <ActionForm action=create>
                <input type="hidden" name="request_id" value=request_id />
                                <NewCredentials />
                <label>"Role" <RoleSelect selected=Role::Trainer label="Role".into() /></label>
                <button type="submit" disabled=move || create.pending().get()>"Create account"</button>
            </ActionForm>
            <p class="ok" role="status">{created}</p>
            <ErrorLine value=create.value() />
        </section>
    }
}
