//! Liveness and readiness, unauthenticated, for load balancers and orchestrators.

use axum::extract::State;
use axum::Json;
use sanhu_store::DatabaseStore;
use serde::Serialize;

use crate::error::{code, ApiError};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    #[schema(pattern = "^ok$")]
    status: &'static str,
}

/// The process is up and serving HTTP; says nothing of the database.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    operation_id = "health",
    summary = "Liveness",
    description = "The process is up; says nothing of the database.",
    responses(
        (status = 200, description = "Up.", body = Health)
    )
)]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    #[schema(pattern = "^ready$")]
    status: &'static str,
    #[schema(pattern = "^(sqlite|postgres)$")]
    backend: &'static str,
    /// The durability setting in force, e.g. `journal_mode=wal synchronous=FULL`.
    #[schema(min_length = 1, max_length = 200)]
    durability: String,
    /// Whether the setting is as strong as sanhu requires. Reported rather than refused here: the
    /// server refuses to start on a weak one, and readiness is about reaching the database.
    durable: bool,
}

/// The database answers: the server can take traffic.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    operation_id = "ready",
    summary = "Readiness",
    description = "The database answers. 503 `not_ready` otherwise.",
    responses(
        (status = 200, description = "Ready to take traffic.", body = Readiness)
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let store = state.ledger.store();
    let checked = async {
        store.ping().await?;
        store.durability().await
    };
    match checked.await {
        Ok(durability) => Ok(Json(Readiness {
            status: "ready",
            backend: store.backend(),
            durability: durability.setting,
            durable: durability.durable,
        })),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "not ready: the database does not answer");
            Err(ApiError::new(code::NOT_READY, "the server cannot reach its database"))
        }
    }
}
