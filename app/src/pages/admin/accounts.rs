use crate::api::users::{CreateUser, SetRole, list_users};
use crate::components::error_line::ErrorLine;
use crate::components::new_credentials::NewCredentials;
use crate::domain::{Role, User};
use leptos::prelude::*;
use uuid::Uuid;

use super::{AdminTabs, short_time};

/// Admins manage accounts: create them with a first password, and change roles.
#[component]
pub fn AdminPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let set_role = ServerAction::<SetRole>::new();
    let users = Resource::new(move || (create.version().get(), set_role.version().get()), |_| list_users());
    view! {
        <AdminTabs />
        <section class="card">
            <h1>"Accounts"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(users) => view! { <UserTable users set_role /> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            <ErrorLine value=set_role.value() />
        </section>
        <CreateUserForm create />
    }
}

#[component]
fn UserTable(users: Vec<User>, set_role: ServerAction<SetRole>) -> impl IntoView {
    let rows = users
        .into_iter()
        .map(|user| {
            view! {
                <tr>
                    <td>{user.email.clone()}</td>
                    <td>
                        <ActionForm action=set_role attr:class="inline">
                            <input type="hidden" name="user_id" value=user.id.to_string() />
                            <RoleSelect selected=user.role label=format!("Role of {}", user.email) />
                            <button type="submit">"Change"</button>
                        </ActionForm>
                    </td>
                    <td class="muted" title=user.created_at.clone()>{short_time(&user.created_at)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table data-testid="users">
            <thead><tr><th>"E-mail"</th><th>"Role"</th><th>"Created"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
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
