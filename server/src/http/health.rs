//! `/healthz`: liveness, and whether the model is ready (it warms up after start).

use app::ssr::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn healthz(State(state): State<AppState>) -> Json<Value> {
    let model = state.model.as_ref().map(|model| {
        let info = model.info();
        json!({ "name": info.name, "source": info.source, "sha256": info.sha256, "ready": info.ready })
    });
    Json(json!({ "status": "ok", "model": model }))
}
