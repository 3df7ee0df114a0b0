//! The values a ledger field takes from a fixed set, as schemas for the OpenAPI document (the views
//! write them with the core's `as_str()`; these types only name the set, inline where a field uses
//! them), as `crate::party::choices` does for the three-party model.

#![allow(dead_code)]

/// `TransferKind::as_str`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum TransferKind {
    Posted,
    Pending,
    PostPending,
    VoidPending,
    ExpirePending,
}

/// Where a hold stands (`PendingStatus::as_str`).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum PendingStatus {
    Pending,
    Posted,
    Voided,
    Expired,
}

/// A side of an account: an entry's direction, an account's normal side.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Side {
    Debit,
    Credit,
}

/// What a batch item does; without one, `pending` says post or hold.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum BatchAction {
    Post,
    Hold,
    PostPending,
    VoidPending,
}
