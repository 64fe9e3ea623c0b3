//! The axum side: the router (Leptos pages, server functions, static files) and `serve`.

mod body_limit;
mod error_status;
mod guard;

use crate::cli::ServeArgs;
use crate::model_file;
use crate::store::SqlStore;
use anyhow::Context;
use app::app::{App, shell};
use app::ssr::AppState;
use axum::Router;
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::net::SocketAddr;
use std::sync::Arc;

pub fn router(state: AppState, options: LeptosOptions) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .leptos_routes_with_context(&options, routes, context, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .layer(axum::middleware::from_fn(
            error_status::server_fn_error_status,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            guard::page_guard,
        ))
        .layer(axum::middleware::from_fn(body_limit::limit_body))
        .with_state(options)
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    match &args.model {
        Some(path) => tracing::info!("{}", model_file::check(path).await?),
        None => match model_file::check(model_file::DEFAULT_MODEL_PATH.as_ref()).await {
            Ok(checked) => tracing::info!("{checked}"),
            Err(err) => tracing::warn!("no model loaded: {err}"),
        },
    }
    let store: SqlStore = args.store.open().await?;
    let state = AppState {
        store: Arc::new(store),
        secure_cookies: args.secure_cookies,
    };
    let options = LeptosOptions::builder()
        .output_name("parley")
        .site_root(args.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(args.addr)
        // PROD: no live-reload socket script in the pages.
        .env(leptos::config::Env::PROD)
        .build();
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let local = listener.local_addr()?;
    // Tests read this line to find the port when started with port 0.
    println!("Parley listening on http://{local}");
    axum::serve(
        listener,
        router(state, options).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("server stopped with an error")
}
