//! Maker-checker: a staff member's request that needs a second person is recorded as an approval
//! (the request itself: method, route, path, body) instead of being applied. Another staff member
//! approves it, and the caller then applies the request and records its answer; or rejects it.
//!
//! The approval is one generic record, whatever the request: the caller (the HTTP layer) decides
//! which requests need one and applies them as requests, so every rule of the request applies when it
//! is applied, as if it had been made then. The decision is a compare-and-set on the approval's status,
//! so two checkers approving at once decide it once.

use sanhu_core::staff::{ApprovalId, ApprovalStatus, ApprovalTag, StaffError, Username};
use sanhu_store::approvals::{Approval, ApprovalQuery, ApprovalStore};

use super::{Staff, StaffFailure, ATTEMPTS};
use crate::clock;

/// The request an approval holds.
#[derive(Clone, Debug)]
pub struct HeldRequest {
    pub method: String,
    /// The route's template, e.g. `/v1/freezes/{number}/unfreeze`.
    pub route: String,
    /// The path with its query, exactly as sent.
    pub path: String,
    pub body: String,
}

impl Staff {
    /// Records `request`, made by `maker`, to wait for another staff member's approval.
    pub async fn request_approval(&self, maker: &Username, request: HeldRequest) -> Result<Approval, StaffFailure> {
        let approval = Approval {
            id: clock::new_id::<ApprovalTag>(),
            status: ApprovalStatus::Pending,
            maker: maker.clone(),
            checker: None,
            method: request.method,
            route: request.route,
            path: request.path,
            body: request.body,
            reason: None,
            created_at: clock::now(),
            decided_at: None,
            response_status: None,
            response_body: None,
        };
        self.store.create_approval(&approval).await?;
        Ok(approval)
    }

    pub async fn approval(&self, id: ApprovalId) -> Result<Approval, StaffFailure> {
        self.store.approval(id).await?.ok_or(StaffFailure::Rejected(StaffError::ApprovalNotFound))
    }

    pub async fn approvals(&self, query: &ApprovalQuery) -> Result<Vec<Approval>, StaffFailure> {
        Ok(self.store.approvals(query).await?)
    }

    /// `checker` approves: the approval is `applying`, and the caller applies its request and then
    /// calls [`Staff::finish_approval`]. One being applied already (a crash interrupted it) is
    /// answered as it is, for the caller to apply again under the same idempotency key. The maker
    /// cannot approve their own request.
    pub async fn approve(&self, id: ApprovalId, checker: &Username) -> Result<Approval, StaffFailure> {
        self.decide(id, |approval| {
            let status = approval.status.approve(&approval.maker, checker)?;
            if approval.status == ApprovalStatus::Applying {
                return Ok(None);
            }
            Ok(Some(Approval { status, checker: Some(checker.clone()), decided_at: Some(clock::now()), ..approval }))
        })
        .await
    }

    /// `checker` rejects a pending approval, saying why.
    pub async fn reject(&self, id: ApprovalId, checker: &Username, reason: &str) -> Result<Approval, StaffFailure> {
        self.decide(id, |approval| {
            let status = approval.status.reject(&approval.maker, checker)?;
            Ok(Some(Approval {
                status,
                checker: Some(checker.clone()),
                reason: Some(reason.to_owned()),
                decided_at: Some(clock::now()),
                ..approval
            }))
        })
        .await
    }

    /// Records the answer applying the request gave: `applied` for a success (2xx), else `failed`.
    /// An approval that is not being applied (finished meanwhile) is answered as it is.
    pub async fn finish_approval(
        &self,
        id: ApprovalId,
        response_status: u16,
        response_body: String,
    ) -> Result<Approval, StaffFailure> {
        self.decide(id, |approval| {
            if approval.status != ApprovalStatus::Applying {
                return Ok(None);
            }
            let status =
                if (200..300).contains(&response_status) { ApprovalStatus::Applied } else { ApprovalStatus::Failed };
            Ok(Some(Approval {
                status,
                response_status: Some(response_status),
                response_body: Some(response_body.clone()),
                ..approval
            }))
        })
        .await
    }

    /// Reads the approval, lets `decision` say what it becomes (None: it stays as it is), and writes
    /// that if the status is still the one read.
    async fn decide(
        &self,
        id: ApprovalId,
        decision: impl Fn(Approval) -> Result<Option<Approval>, StaffError>,
    ) -> Result<Approval, StaffFailure> {
        for _ in 0..ATTEMPTS {
            let approval = self.approval(id).await?;
            let expected = approval.status;
            let Some(decided) = decision(approval.clone())? else { return Ok(approval) };
            if self.store.update_approval(&decided, expected).await? {
                return Ok(decided);
            }
        }
        Err(StaffFailure::Contended)
    }
}
