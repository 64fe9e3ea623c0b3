//! `/healthz`: liveness, and whether the model new work uses is ready (models warm up after
//! start). Anonymous callers (a load balancer) learn only that; signed-in users also see
//! each model's name, source and version.

use app::domain::Role;
use app::ssr::AppState;
use axum::Json;
use axum::extract::State;
use http::HeaderMap;
use serde_json::{Value, json};

pub async fn healthz(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let signed_in = super::reply::caller(&state, &headers, Role::Trainer).await.is_ok();
    let active = state.models.active(state.store.as_ref()).await.ok().flatten().map(|s| s.version);
    let models: Vec<Value> = state
        .models
        .served
        .iter()
        .map(|served| {
            let info = served.model.info();
            json!({
                "version": served.version, "name": info.name, "source": info.source,
                "sha256": info.sha256, "ready": info.ready, "active": Some(served.version) == active
            })
        })
        .collect();
    // `model`: the one new work uses.
    let model = models.iter().find(|m| m["active"] == true).cloned();
    let ready = model.as_ref().is_some_and(|m| m["ready"] == true);
    if !signed_in {
        return Json(json!({ "status": "ok", "ready": ready }));
    }
    Json(json!({ "status": "ok", "ready": ready, "model": model, "models": models }))
}
