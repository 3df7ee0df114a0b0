//! The console's templates (minijinja, embedded in the binary) and the filters they format with:
//! amounts as ¥1,234.56, times in the platform's time zone.

use std::sync::LazyLock;

use minijinja::{Environment, UndefinedBehavior};
use sanhu_core::{PlatformCalendar, Timestamp};

use super::messages::{label, Lang};

/// Every template, by name, as embedded in the binary.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("layout.html", include_str!("templates/layout.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("dashboard.html", include_str!("templates/dashboard.html")),
    ("members.html", include_str!("templates/members.html")),
    ("members_results.html", include_str!("templates/members_results.html")),
    ("member.html", include_str!("templates/member.html")),
    ("flow.html", include_str!("templates/flow.html")),
    ("withdrawals.html", include_str!("templates/withdrawals.html")),
    ("approvals.html", include_str!("templates/approvals.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("audit_rows.html", include_str!("templates/audit_rows.html")),
    ("message.html", include_str!("templates/message.html")),
    ("merchants.html", include_str!("templates/merchants.html")),
    ("merchant.html", include_str!("templates/merchant.html")),
    ("orders.html", include_str!("templates/orders.html")),
    ("orders_results.html", include_str!("templates/orders_results.html")),
    ("order.html", include_str!("templates/order.html")),
    ("cards.html", include_str!("templates/cards.html")),
    ("batch.html", include_str!("templates/batch.html")),
    ("codes.html", include_str!("templates/codes.html")),
    ("codes_generated.html", include_str!("templates/codes_generated.html")),
    ("bills.html", include_str!("templates/bills.html")),
    ("bill.html", include_str!("templates/bill.html")),
    ("customer_bill.html", include_str!("templates/customer_bill.html")),
    ("customers.html", include_str!("templates/customers.html")),
    ("customer.html", include_str!("templates/customer.html")),
    ("api_clients.html", include_str!("templates/api_clients.html")),
    ("api_client.html", include_str!("templates/api_client.html")),
    ("staff.html", include_str!("templates/staff.html")),
    ("staff_member.html", include_str!("templates/staff_member.html")),
    ("configuration.html", include_str!("templates/configuration.html")),
    ("products.html", include_str!("templates/products.html")),
    ("merchant_products.html", include_str!("templates/merchant_products.html")),
    ("merchant_settings.html", include_str!("templates/merchant_settings.html")),
    ("coupons.html", include_str!("templates/coupons.html")),
    ("coupon_template.html", include_str!("templates/coupon_template.html")),
    ("coupon_value.html", include_str!("templates/coupon_value.html")),
    ("webhooks.html", include_str!("templates/webhooks.html")),
    ("webhook.html", include_str!("templates/webhook.html")),
    ("webhook_status.html", include_str!("templates/webhook_status.html")),
    ("settlements.html", include_str!("templates/settlements.html")),
    ("settlement.html", include_str!("templates/settlement.html")),
    ("stores.html", include_str!("templates/stores.html")),
    ("store.html", include_str!("templates/store.html")),
    ("card.html", include_str!("templates/card.html")),
    ("family_cards.html", include_str!("templates/family_cards.html")),
];

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // A label or value a template names and the page lacks fails the page, not silently blank.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    for (name, source) in TEMPLATES {
        env.add_template(name, source).expect("a console template parses");
    }
    env.add_filter("yuan", yuan_filter);
    env.add_filter("localtime", localtime_filter);
    env.add_filter("tr", tr_filter);
    env
});

/// Renders template `name` with `context` (HTML-escaped: every template is `.html`).
pub fn render(name: &str, context: &serde_json::Value) -> Result<String, minijinja::Error> {
    ENVIRONMENT.get_template(name)?.render(context)
}

/// Minor units of yuan as people write them: `¥1,234.56`, `-¥0.05`.
pub fn yuan(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let units = minor.unsigned_abs();
    let whole = (units / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}¥{grouped}.{:02}", units % 100)
}

fn yuan_filter(value: i64) -> String {
    yuan(value)
}

/// An RFC 3339 time of the API as the platform's local time (the time zone is the page's `tz`);
/// anything else unchanged.
fn localtime_filter(state: &minijinja::State, value: String) -> String {
    let zone = state.lookup("tz").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let calendar = PlatformCalendar::new(&zone).unwrap_or_else(|_| PlatformCalendar::china());
    match Timestamp::parse_rfc3339(&value) {
        Some(at) => calendar.local_text(at),
        None => value,
    }
}

/// A value of the API (a status, a type, a history event's name...) in the page's language: the
/// catalogue's `<group>_<value>`; a value the catalogue lacks (one configured, say) as the API names it.
fn tr_filter(state: &minijinja::State, value: minijinja::Value, group: String) -> String {
    let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
    if value.is_none() || value.is_undefined() {
        return "—".to_owned();
    }
    let lang = state.lookup("lang").and_then(|v| v.as_str().and_then(Lang::parse)).unwrap_or(Lang::Zh);
    let key = format!("{group}_{}", text.replace('.', "_"));
    match label(lang, &key) {
        shown if shown == key => text,
        shown => shown.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_yuan_with_thousands_separated() {
        assert_eq!(yuan(0), "¥0.00");
        assert_eq!(yuan(5), "¥0.05");
        assert_eq!(yuan(123_456), "¥1,234.56");
        assert_eq!(yuan(100_000_000), "¥1,000,000.00");
        assert_eq!(yuan(-99_999), "-¥999.99");
        assert_eq!(yuan(i64::MIN), "-¥92,233,720,368,547,758.08");
    }

    #[test]
    fn times_are_shown_in_the_platforms_time_zone() {
        let context = serde_json::json!({"tz": "Asia/Shanghai", "at": "2026-12-06T16:30:05Z"});
        let env = &*ENVIRONMENT;
        let out = env.render_str("{{ at | localtime }}", &context).unwrap();
        assert_eq!(out, "2026-12-07 00:30:05");
    }

    #[test]
    fn values_of_the_api_are_shown_in_the_pages_language() {
        let env = &*ENVIRONMENT;
        let zh = serde_json::json!({"lang": "zh-CN", "v": "enterprise", "h": "merchant.opened", "x": "made_up"});
        assert_eq!(env.render_str("{{ v | tr('mtype') }}", &zh).unwrap(), "企业商户");
        assert_eq!(env.render_str("{{ h | tr('event') }}", &zh).unwrap(), "商户开通");
        assert_eq!(env.render_str("{{ x | tr('mtype') }}", &zh).unwrap(), "made_up");
        let en = serde_json::json!({"lang": "en", "v": "enterprise"});
        assert_eq!(env.render_str("{{ v | tr('mtype') }}", &en).unwrap(), "Enterprise");
    }
}
