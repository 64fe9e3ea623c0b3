//! The pages on the server: their routes and the not-found fallback, with the app
//! rendered on each request. Built here, not in `server/`: rendering instantiates every
//! page's view type, and instantiated in the server crate, that code made the whole crate
//! recompile at any change in a page (142 of a one-line rebuild's 214 seconds). Here it
//! recompiles with the app, which changed anyway; the server crate only calls this.

use super::AppState;
use crate::app::{App, shell};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};

/// `router` with a route for each page, each rendered with `state` in its context, and the
/// not-found page (which renders the app too: navigation, who is signed in).
pub fn with_pages(
    router: axum::Router<LeptosOptions>,
    options: &LeptosOptions,
    state: AppState,
) -> axum::Router<LeptosOptions> {
    let routes = generate_route_list(App);
    let context = move || provide_context(state.clone());
    router
        .leptos_routes_with_context(options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context(context, shell))
}
