//! The axum side: the router (Leptos pages, server functions, static files) and `serve`.

mod assets;
mod body_limit;
mod converse;
mod datasets;
mod error_status;
mod generate;
mod guard;
mod health;
pub mod openai;
mod reply;

use crate::cli::ServeArgs;
use crate::model::{LocalModel, RemoteModel};
use crate::model_file;
use crate::store::SqlStore;
use anyhow::Context;
use app::app::{App, shell};
use app::ssr::model::{LanguageModel, ModelSet, ServedModel};
use app::ssr::{AppState, Store};
use axum::Router;
use axum::routing::{MethodRouter, get, post};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::net::SocketAddr;
use std::sync::Arc;

/// The browser bundle's folder under the site root, and its address.
const PKG_DIR: &str = "pkg";

/// The routes that are neither pages nor server functions, with their methods.
fn plain_routes() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("GET", "/healthz", get(health::healthz)),
        ("GET", "/api/generate", get(generate::generate)),
        ("GET", "/api/conversations/{id}/generate", get(converse::converse)),
        ("GET", "/v1/models", get(openai::list_models)),
        ("POST", "/v1/chat/completions", post(openai::chat_completions)),
        ("POST", "/v1/moderations", post(openai::moderations)),
        ("POST", "/api/datasets/import", post(datasets::import)),
        ("GET", "/api/datasets/export", get(datasets::export)),
    ]
}

/// Every route a caller can reach besides the pages, as "METHOD path": the plain routes
/// and each registered server function (`parley routes` prints them; the authorization
/// test checks each against its table).
pub fn route_list() -> Vec<String> {
    let mut routes: Vec<String> =
        plain_routes().into_iter().map(|(method, path, _)| format!("{method} {path}")).collect();
    routes.extend(server_fn::axum::server_fn_paths().map(|(path, method)| format!("{method} {path}")));
    routes.sort();
    routes
}

pub fn router(state: AppState, options: LeptosOptions, sql: Arc<SqlStore>, import_limit: usize) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    plain_routes()
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| router.route(path, handler))
        .layer(axum::Extension(sql))
        .layer(axum::Extension(datasets::ImportLimit(import_limit)))
        .with_state(state.clone())
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        // The browser bundle: precompressed, cached for good under hashed names.
        .nest_service(
            &format!("/{PKG_DIR}"),
            axum::Router::new()
                .fallback_service(assets::pkg_service(
                    std::path::Path::new(options.site_root.as_ref()),
                    PKG_DIR,
                ))
                .layer(axum::middleware::from_fn(assets::pkg_cache)),
        )
        // The not-found page renders the app too (navigation, who is signed in).
        .fallback(leptos_axum::file_and_error_handler_with_context(context, shell))
        .layer(axum::middleware::from_fn(assets::page_cache))
        .layer(axum::middleware::from_fn(error_status::server_fn_error_status))
        .layer(axum::middleware::from_fn_with_state(state, guard::page_guard))
        .layer(axum::middleware::from_fn_with_state(import_limit, body_limit::limit_body))
        .with_state(options)
}

/// The models to serve: a remote engine, or the files named by `--model` (any problem stops
/// start-up), else the default file when it is there (Parley runs without a model when it
/// is not). Each is recorded as a model version.
async fn start_models(args: &ServeArgs, store: &SqlStore) -> anyhow::Result<ModelSet> {
    let mut models: Vec<Arc<dyn LanguageModel>> = vec![];
    if let Some(url) = &args.engine_url {
        tracing::info!(%url, "sampling with a remote engine");
        models.push(Arc::new(RemoteModel::new(url, args.engine_key.clone(), args.engine_model.clone())));
    }
    let mut paths = args.model.clone();
    let default = std::path::PathBuf::from(model_file::DEFAULT_MODEL_PATH);
    if paths.is_empty() && args.engine_url.is_none() {
        if default.exists() {
            paths.push(default);
        } else {
            tracing::warn!("no model: {} not found; run scripts/fetch-model.sh", default.display());
        }
    }
    for path in paths {
        let checked = model_file::check(&path).await?;
        let mut engine = crate::model::load(&path, checked.sha256.clone())
            .await
            .with_context(|| format!("cannot load the model {}", path.display()))?;
        tracing::info!("{checked}: {} loaded; warming up", engine.info.name);
        engine.set_prefix_cache((args.prefix_cache_mb as usize) << 20);
        models.push(Arc::new(LocalModel::start(engine, args.model_queue)));
    }
    let mut served = vec![];
    for model in models {
        let version = store.register_model(&model.info()).await?;
        served.push(ServedModel { version, model });
    }
    Ok(ModelSet { served })
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store: SqlStore = args.store.open().await?;
    let models = Arc::new(start_models(&args, &store).await?);
    let limits = app::domain::Limits {
        message_bytes: args.max_message_kb as usize * 1024,
        messages: args.max_messages as usize,
        rank_lease_secs: args.rank_lease_secs,
    };
    let sql = Arc::new(store.clone());
    // Reward models read the features of the first model file served (or the default one).
    let reward = args
        .model
        .first()
        .cloned()
        .or_else(|| Some(std::path::PathBuf::from(model_file::DEFAULT_MODEL_PATH)).filter(|p| p.exists()))
        .map(|model| {
            let dir = args.store.data_dir.join("reward");
            Arc::new(crate::reward::job::Trainer::new(store.clone(), model, dir))
                as Arc<dyn app::ssr::reward::RewardTrainer>
        });
    let store: Arc<dyn Store> = Arc::new(store);
    let comparison_work = Arc::new(tokio::sync::Notify::new());
    let moderation = args.moderation_url.as_ref().map(|url| {
        let moderator = crate::moderation::HttpModerator::new(url, args.moderation_key.clone(), args.moderation_model.clone());
        tracing::info!(endpoint = %app::ssr::moderation::Moderator::describe(&moderator), "external moderation");
        app::ssr::moderation::ExternalModeration {
            moderator: Arc::new(moderator),
            mode: args.moderation_mode,
            action: if args.moderation_action == "warn" { app::filter::Action::Warn } else { app::filter::Action::Block },
        }
    });
    let filter = Arc::new(app::ssr::content_filter::FilterState::new(moderation));
    let assets = assets::Assets::read(&args.site_root, PKG_DIR)?;
    crate::sampler::spawn(
        store.clone(),
        models.clone(),
        filter.clone(),
        reward.clone(),
        comparison_work.clone(),
    );
    let state = AppState {
        store,
        models,
        secure_cookies: args.secure_cookies,
        client_ip_header: args.client_ip_header.clone(),
        limits,
        comparison_work,
        filter,
        figures: Arc::new(app::ssr::figures::FigureCache::new(std::time::Duration::from_secs(
            args.figures_secs,
        ))),
        style_href: format!("/{PKG_DIR}/{}", assets.style).into(),
        reward,
    };
    app::api::stats::warm(&state);
    let options = LeptosOptions::builder()
        .output_name("parley")
        .site_root(args.site_root.display().to_string())
        .site_pkg_dir(assets.pkg_dir(PKG_DIR))
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
        router(state, options, sql, (args.max_import_mb as usize) << 20)
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("server stopped with an error")
}
