//! The approvals of maker-checker: a staff member's request that waits for a second one's decision,
//! with what it takes to apply it, the same on both backends.
//!
//! Every change to an approval is a compare-and-set on its status, so two staff members approving at
//! once cannot both apply a request. Which requests need an approval, and who may decide one, is the
//! service's and core's (`sanhu_core::staff`); the store keeps what they decided.

use sanhu_core::staff::{ApprovalId, ApprovalStatus, Username};
use sanhu_core::Timestamp;

use crate::staff::stored_username;

/// A staff member's request that waits for a second one's approval, with what it takes to apply it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub id: ApprovalId,
    pub status: ApprovalStatus,
    /// Who asked.
    pub maker: Username,
    /// Who approved or rejected it.
    pub checker: Option<Username>,
    /// The request to apply: its method, route template, path with query as sent, and body.
    pub method: String,
    pub route: String,
    pub path: String,
    pub body: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub created_at: Timestamp,
    /// When it was approved or rejected.
    pub decided_at: Option<Timestamp>,
    /// The answer applying it gave: its HTTP status and body.
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
}

/// Which approvals to list, oldest first.
#[derive(Clone, Debug, Default)]
pub struct ApprovalQuery {
    pub status: Option<ApprovalStatus>,
    /// Approvals after this one (a page's cursor).
    pub after: Option<ApprovalId>,
    pub limit: u32,
}

store_trait! {
    /// What every backend provides for approvals.
    pub trait ApprovalStore {
        fn create_approval(&self, approval: &Approval) -> anyhow::Result<()>;
        fn approval(&self, id: ApprovalId) -> anyhow::Result<Option<Approval>>;
        fn approvals(&self, query: &ApprovalQuery) -> anyhow::Result<Vec<Approval>>;
        /// Writes `approval` over the stored one if the stored status is still `expected`. False if
        /// it moved on meanwhile (another staff member decided it).
        fn update_approval(&self, approval: &Approval, expected: ApprovalStatus) -> anyhow::Result<bool>;
    }
}

/// An approval's columns, in the order both backends read them.
pub(crate) const APPROVAL_COLUMNS: &str = "id, status, maker, checker, method, route, path, body, reason, \
     created_at, decided_at, response_status, response_body";

/// An approval's columns as read, before they are checked.
pub(crate) struct ApprovalRow {
    pub id: String,
    pub status: String,
    pub maker: String,
    pub checker: Option<String>,
    pub method: String,
    pub route: String,
    pub path: String,
    pub body: String,
    pub reason: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub response_status: Option<i64>,
    pub response_body: Option<String>,
}

pub(crate) fn approval_from_row(row: ApprovalRow) -> anyhow::Result<Approval> {
    let id = ApprovalId::parse(&row.id).ok_or_else(|| anyhow::anyhow!("a stored approval id {:?}", row.id))?;
    let status = ApprovalStatus::parse(&row.status)
        .ok_or_else(|| anyhow::anyhow!("approval {id} has status {:?}", row.status))?;
    let response_status = match row.response_status {
        None => None,
        Some(status) => {
            Some(u16::try_from(status).map_err(|_| anyhow::anyhow!("approval {id} has response status {status}"))?)
        }
    };
    Ok(Approval {
        id,
        status,
        maker: stored_username(&row.maker)?,
        checker: row.checker.as_deref().map(stored_username).transpose()?,
        method: row.method,
        route: row.route,
        path: row.path,
        body: row.body,
        reason: row.reason,
        created_at: Timestamp::from_nanos(row.created_at),
        decided_at: row.decided_at.map(Timestamp::from_nanos),
        response_status,
        response_body: row.response_body,
    })
}
