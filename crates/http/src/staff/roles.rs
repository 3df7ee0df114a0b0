//! The staff roles' permission table as docs/SECURITY.md shows it, made from the code: a row per role,
//! a column per scope (what each role's scopes are is core's, `StaffRole::scopes`; which endpoint needs
//! which scope is [`crate::scopes`]); and the requests that wait for a second staff member. A test
//! checks that the document holds exactly these tables.

use sanhu_core::scope::Scope;
use sanhu_core::staff::{StaffArea, StaffRole};

use super::approvals::approval_routes;

/// The roles × scopes table, in Markdown.
pub fn permission_table() -> String {
    let mut table = String::from("| role |");
    for scope in Scope::ALL {
        table.push_str(&format!(" `{scope}` |"));
    }
    table.push_str("\n|---|");
    table.push_str(&"---|".repeat(Scope::ALL.len()));
    for role in StaffRole::ALL {
        table.push_str(&format!("\n| `{}` |", role.as_str()));
        for scope in Scope::ALL {
            table.push_str(if role.scopes().contains(scope) { " ✓ |" } else { " |" });
        }
    }
    table
}

/// The roles × areas table (the parts of the back office a role's scopes alone do not decide), in
/// Markdown: core's `StaffRole::reaches`, with the routes of each area ([`crate::scopes::staff_area`]).
pub fn area_table() -> String {
    let mut table = String::from("| role |");
    for area in StaffArea::ALL {
        table.push_str(&format!(" {} |", area.as_str()));
    }
    table.push_str("\n|---|");
    table.push_str(&"---|".repeat(StaffArea::ALL.len()));
    for role in StaffRole::ALL {
        table.push_str(&format!("\n| `{}` |", role.as_str()));
        for area in StaffArea::ALL {
            table.push_str(if role.reaches(*area) { " ✓ |" } else { " |" });
        }
    }
    table
}

/// The requests that wait for approval when staff make them, in Markdown.
pub fn approval_table() -> String {
    let mut table = String::from("| request | scope the maker and the checker need |\n|---|---|");
    for (method, route) in approval_routes() {
        table.push_str(&format!("\n| `{method} {route}` | `{}` |", crate::routes::required_scope(method, route)));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECURITY: &str = include_str!("../../../../docs/SECURITY.md");

    #[test]
    fn the_security_document_shows_the_roles_as_the_code_grants_them() {
        let table = permission_table();
        assert!(SECURITY.contains(&table), "docs/SECURITY.md should hold this table exactly:\n\n{table}\n");
    }

    #[test]
    fn the_security_document_shows_the_areas_each_role_reaches() {
        let table = area_table();
        assert!(SECURITY.contains(&table), "docs/SECURITY.md should hold this table exactly:\n\n{table}\n");
        for (route, area) in [
            ("/v1/webhooks", Some(StaffArea::Webhooks)),
            ("/v1/webhooks/{id}/deliveries/{event_id}/resend", Some(StaffArea::Webhooks)),
            ("/v1/merchants/{id}/settlements/{number}/payout", Some(StaffArea::Settlements)),
            ("/v1/merchants/{id}/settlement-adjustments", Some(StaffArea::Settlements)),
            ("/v1/merchants/{id}/settlement-account", None),
            ("/v1/merchants/{id}/stores", None),
        ] {
            assert_eq!(crate::scopes::staff_area(route), area, "{route}");
        }
    }

    #[test]
    fn the_security_document_lists_the_requests_that_wait_for_approval() {
        let table = approval_table();
        assert!(SECURITY.contains(&table), "docs/SECURITY.md should hold this table exactly:\n\n{table}\n");
    }
}
