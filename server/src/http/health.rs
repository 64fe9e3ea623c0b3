//! `/healthz`: liveness, and whether each model is ready (they warm up after start).

use app::ssr::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn healthz(State(state): State<AppState>) -> Json<Value> {
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
    Json(json!({ "status": "ok", "model": model, "models": models }))
}
