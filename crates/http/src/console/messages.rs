//! The console's message catalogue: every label the pages show, in Chinese (the default) and English.
//! Templates read them as `t.<key>`; a key missing from the catalogue fails the page's rendering (and
//! the tests, which render every page in both languages).

use std::collections::BTreeMap;

/// The languages the console speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// `zh` or `en` (what `?lang=` and the language cookie hold); anything else is not a language.
    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "zh" | "zh-CN" | "zh-cn" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The page's `lang` attribute.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The other language: the one the switch offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// (key, Chinese, English).
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("brand", "三户运营后台", "sanhu operations console"),
    ("skip_to_content", "跳到正文", "Skip to content"),
    ("nav_dashboard", "概览", "Dashboard"),
    ("nav_members", "会员查询", "Members"),
    ("nav_withdrawals", "提现审核", "Withdrawal review"),
    ("nav_approvals", "复核审批", "Approvals"),
    ("nav_audit", "审计日志", "Audit log"),
    ("nav_merchants", "商户管理", "Merchants"),
    ("nav_orders", "订单查询", "Orders"),
    ("nav_cards", "会员卡", "Cards"),
    ("nav_label", "主菜单", "Main menu"),
    ("signed_in_as", "当前用户", "Signed in as"),
    ("sign_out", "退出登录", "Sign out"),
    ("switch_language", "English", "中文"),
    ("switch_language_label", "切换语言", "Switch language"),
    ("role_super_admin", "超级管理员", "Super administrator"),
    ("role_finance", "财务", "Finance"),
    ("role_operations", "运营", "Operations"),
    ("role_customer_service", "客服", "Customer service"),
    ("role_auditor", "审计", "Auditor"),
    ("role_marketing", "市场", "Marketing"),
    // Signing in
    ("sign_in_title", "登录", "Sign in"),
    ("sign_in_intro", "请使用运营人员账号登录。", "Sign in with your staff account."),
    ("username", "用户名", "Username"),
    ("password", "密码", "Password"),
    ("sign_in", "登录", "Sign in"),
    ("sign_in_failed", "用户名或密码错误，或账号已锁定。", "Wrong username or password, or the account is locked."),
    ("sign_in_refused", "该账号不能登录", "This account cannot sign in"),
    ("sign_in_rate_limited", "尝试过于频繁，请稍后再试。", "Too many attempts; try again shortly."),
    ("signed_out", "您已退出登录。", "You are signed out."),
    ("session_ended", "会话已失效，请重新登录。", "Your session has ended; sign in again."),
    // Dashboard
    ("dashboard_title", "概览", "Dashboard"),
    ("waiting_for_you", "待处理事项", "Waiting for you"),
    ("pending_approvals", "待复核审批", "Approvals waiting"),
    ("withdrawals_in_review", "待审核提现", "Withdrawals waiting for review"),
    ("open", "查看", "Open"),
    ("your_session", "您的会话", "Your session"),
    ("role", "角色", "Role"),
    ("session_expires", "会话到期", "Session ends"),
    ("time_zone", "平台时区", "Platform time zone"),
    ("more_than", "以上", "or more"),
    // Members
    ("members_title", "会员查询", "Find a member"),
    (
        "search_hint",
        "输入条件后查询；未输入条件时不显示任何会员。",
        "Enter a criterion to search; nothing is listed without one.",
    ),
    ("search_by", "查询方式", "Search by"),
    ("by_member", "会员编号", "Member number"),
    ("by_phone", "手机号", "Phone"),
    ("by_name", "姓名/企业名称", "Name"),
    ("by_certificate", "证件号码", "Certificate number"),
    ("search_value", "查询内容", "Search for"),
    ("search", "查询", "Search"),
    ("no_results", "没有符合条件的记录。", "Nothing matches."),
    ("results", "查询结果", "Results"),
    ("customer", "客户", "Customer"),
    ("member", "会员", "Member"),
    ("name", "名称", "Name"),
    ("certificate", "证件", "Certificate"),
    ("kind", "类型", "Kind"),
    ("status", "状态", "Status"),
    ("identities", "登录标识", "Identities"),
    ("created_at", "创建时间", "Created"),
    ("actions", "操作", "Actions"),
    ("view_wallet", "查看钱包", "View wallet"),
    // Wallet
    ("wallet_title", "会员钱包", "Member's wallet"),
    ("wallet_total", "钱包合计", "Wallet total"),
    ("accounts", "账户", "Accounts"),
    ("account", "账户", "Account"),
    ("account_type", "账户类型", "Account type"),
    ("balance", "余额", "Balance"),
    ("available", "可用", "Available"),
    ("frozen_amount", "冻结", "Frozen"),
    ("withdrawable", "可提现", "Withdrawable"),
    ("balance_opens_flow", "点击余额查看该账户流水", "Click a balance to see that account's flow"),
    ("account_status", "账户状态", "Account status"),
    ("freeze", "冻结", "Freeze"),
    ("unfreeze", "解冻", "Unfreeze"),
    ("reason", "原因", "Reason"),
    ("submit", "提交", "Submit"),
    ("held_for_approval", "已提交，等待另一位人员复核", "Submitted: waiting for a second staff member's approval"),
    ("done", "已完成", "Done"),
    // Flow
    ("flow_title", "流水", "Flow"),
    ("flow_all_accounts", "全部账户", "All accounts"),
    ("flow_of_account", "账户流水", "Account flow"),
    ("time", "时间", "Time"),
    ("business_type", "业务类型", "Business type"),
    ("direction", "方向", "Direction"),
    ("amount", "金额", "Amount"),
    ("fee", "手续费", "Fee"),
    ("counterparty", "对方", "Counterparty"),
    ("balance_after", "变动后余额", "Balance after"),
    ("reference", "订单号", "Reference"),
    ("direction_in", "收入 (+)", "In (+)"),
    ("direction_out", "支出 (−)", "Out (−)"),
    ("next_page", "下一页", "Next page"),
    ("first_page", "第一页", "First page"),
    ("no_flow", "暂无流水。", "No movements yet."),
    // Withdrawals
    ("withdrawals_title", "提现审核", "Withdrawal review"),
    ("withdrawals_queue", "待审核的提现", "Withdrawals waiting for review"),
    ("withdrawal_number", "提现单号", "Withdrawal number"),
    ("find", "查找", "Find"),
    ("api_client", "接入方编号", "API client"),
    ("payout", "到账金额", "Payout"),
    ("approve", "通过", "Approve"),
    ("reject", "拒绝", "Reject"),
    ("decision", "审核结果", "Decision"),
    ("queue_empty", "没有待审核的提现。", "No withdrawal is waiting for review."),
    // Approvals
    ("approvals_title", "复核审批", "Approvals"),
    (
        "approvals_hint",
        "他人提交、需要第二人复核的操作。不能复核自己提交的操作。",
        "Requests made by one staff member that wait for a second one. Nobody approves their own.",
    ),
    ("maker", "提交人", "Made by"),
    ("request", "请求", "Request"),
    ("no_approvals", "没有待复核的审批。", "Nothing waits for approval."),
    // Audit
    ("audit_title", "审计日志", "Audit log"),
    ("actor", "操作人", "Actor"),
    ("route", "接口", "Route"),
    ("target_id", "对象编号", "Target id"),
    ("from_date", "开始日期", "From date"),
    ("to_date", "结束日期", "To date (exclusive)"),
    ("filter", "筛选", "Filter"),
    ("result", "结果", "Result"),
    ("source", "来源地址", "Source"),
    ("no_events", "没有符合条件的事件。", "No event matches."),
    // Dashboard figures
    ("merchants_in_review", "待审核商户", "Merchants waiting for review"),
    ("figures_title", "交易概况", "Money moved"),
    ("flow", "业务", "Flow"),
    ("flow_recharges", "充值", "Recharges"),
    ("flow_payments", "支付", "Payments"),
    ("flow_refunds", "退款", "Refunds"),
    ("flow_withdrawals", "提现", "Withdrawals"),
    ("today_count", "今日笔数", "Today: count"),
    ("today_amount", "今日金额", "Today: amount"),
    ("month_count", "本月笔数", "This month: count"),
    ("month_amount", "本月金额", "This month: amount"),
    ("chart_title", "本月每日金额", "Amounts by day this month"),
    ("chart_desc", "本月每日充值、支付、退款、提现金额的柱状图；明细见下表。", "Bars of each day's recharges, payments, refunds and withdrawals this month; the table below has the figures."),
    ("chart_table", "按日明细（笔数 · 金额）", "By day (count · amount)"),
    ("date", "日期", "Date"),
    ("today", "今日", "Today"),
    ("this_month", "本月", "This month"),
    // Merchants
    ("merchants_title", "商户管理", "Merchants"),
    ("merchants_hint", "按商户或企业名称、统一社会信用代码查询，或选择状态列出；未输入条件时不显示任何商户。", "Search by the merchant's or business's name or the credit code, or list a status; nothing is listed without a criterion."),
    ("merchants_review_queue", "待审核的商户（审核队列）", "Merchants waiting for review (the queue)"),
    ("by_business_name", "商户或企业名称", "Merchant or business name"),
    ("by_credit_code", "统一社会信用代码/证件号", "Credit code or certificate"),
    ("any", "全部", "Any"),
    ("merchant", "商户", "Merchant"),
    ("merchant_title", "商户", "Merchant"),
    ("business_name", "经营主体", "Business"),
    ("merchant_type", "商户类型", "Merchant type"),
    ("credit_code", "信用代码/证件", "Credit code"),
    ("contact", "联系人", "Contact"),
    ("scenario", "经营场景", "Scenario"),
    ("settlement_cycle", "结算周期", "Settlement cycle"),
    ("settlement_account", "结算账户", "Settlement account"),
    ("verification", "验证", "verification"),
    ("receipts", "收款", "Received"),
    ("documents", "资料", "Documents"),
    ("licence", "营业执照", "Business licence"),
    ("legal_person", "法定代表人", "Legal person"),
    ("premises_photos", "经营场所照片", "Premises photos"),
    ("not_given", "未提交", "not given"),
    ("merchant_review", "入网审核", "Onboarding review"),
    ("held_hint", "提交后需另一位人员在“复核审批”中通过才生效。", "Once submitted, it takes effect when a second staff member approves it under Approvals."),
    ("reason_to_reject", "拒绝或要求补充资料时必填", "required to reject or ask for more"),
    ("ask_for_more", "要求补充资料", "Ask for more"),
    ("merchant_status_change", "冻结、解冻或注销", "Freeze, unfreeze or close"),
    ("new_status", "操作", "Change"),
    ("close", "注销", "Close"),
    ("reviews", "审核记录", "Reviews"),
    ("checker", "复核人", "Checked by"),
    ("history", "变更历史", "History"),
    ("action", "事件", "Event"),
    ("merchant_applying", "申请中", "Applying"),
    ("merchant_under_review", "审核中", "Under review"),
    ("merchant_active", "正常", "Active"),
    ("merchant_rejected", "已拒绝", "Rejected"),
    ("merchant_frozen", "已冻结", "Frozen"),
    ("merchant_closed", "已注销", "Closed"),
    // Orders
    ("orders_title", "订单查询", "Find orders"),
    ("orders_hint", "选择订单类型并输入至少一个条件（订单号、会员、状态或日期）；未输入条件时不显示任何订单。", "Choose the kind and give at least one criterion (number, member, status or dates); nothing is listed without one."),
    ("order_kind", "订单类型", "Kind"),
    ("kind_payment", "支付订单", "Payment"),
    ("kind_recharge", "充值订单", "Recharge"),
    ("kind_withdrawal", "提现订单", "Withdrawal"),
    ("kind_refund", "退款订单", "Refund"),
    ("order_number", "订单号", "Order number"),
    ("payment_number", "原支付订单号", "Payment number"),
    ("search_goes_on", "本页已查到记录末尾之前；点击下一页继续查找。", "This page stopped before the end; the next page searches on."),
    ("refunds", "退款", "Refunds"),
    ("refund_number", "退款单号", "Refund number"),
    ("ledger_transfers", "账务流水（记账分录）", "Ledger transfers"),
    ("ledger_not_in_scope", "您的角色无权查看账务分录。", "Your role may not read the ledger's transfers."),
    ("no_transfers", "没有账务分录。", "No ledger transfer."),
    ("transfer", "分录编号", "Transfer"),
    ("transfer_kind", "分录类型", "Kind"),
    ("debit", "借方账户", "Debit account"),
    ("credit", "贷方账户", "Credit account"),
    // An order's fields
    ("field_amount", "金额", "Amount"),
    ("field_created_at", "创建时间", "Created"),
    ("field_updated_at", "更新时间", "Updated"),
    ("field_expires_at", "过期时间", "Expires"),
    ("field_customer_id", "客户编号", "Customer"),
    ("field_member_id", "会员编号", "Member"),
    ("field_operator_id", "操作员", "Operator"),
    ("field_order_number", "订单号", "Order number"),
    ("field_client_id", "接入方编号", "API client"),
    ("field_paid", "实付金额", "Paid"),
    ("field_refunded", "已退款", "Refunded"),
    ("field_remainder", "未支付部分", "Remainder"),
    ("field_reason", "原因", "Reason"),
    ("field_status", "状态", "Status"),
    ("field_receiver_account_id", "收款账户", "Receiving account"),
    ("field_account_id", "入账账户", "Account"),
    ("field_channel", "渠道", "Channel"),
    ("field_fee", "手续费", "Fee"),
    ("field_fee_paid_by_member", "会员承担手续费", "Fee paid by the member"),
    ("field_payout", "到账金额", "Payout"),
    ("field_bank_card_id", "银行卡", "Bank card"),
    ("field_credited", "入账金额", "Credited"),
    ("field_bonus", "赠送金额", "Bonus"),
    ("field_repaid", "还款金额", "Debt repaid"),
    ("field_review_required", "需审核", "Review required"),
    ("field_mode", "支付方式", "Mode"),
    // Cards
    ("cards_title", "会员卡", "Member cards"),
    ("card_types", "卡类型", "Card types"),
    ("card_type", "卡类型", "Card type"),
    ("grade", "等级", "Grade"),
    ("owner", "所属", "Owner"),
    ("version", "版本", "Version"),
    ("card_batches", "发行批次", "Issuing batches"),
    ("batch", "批次", "Batch"),
    ("batch_title", "发行批次", "Issuing batch"),
    ("quantity", "数量", "Quantity"),
    ("sold", "已售", "sold"),
    ("numbers", "卡号段", "Numbers"),
    ("batch_approved", "已审批", "Approved"),
    ("batch_pending", "待审批", "Waiting for approval"),
    ("approvals_given", "已审批角色", "Approved by"),
    ("batch_approvals", "审批", "Approvals"),
    ("batch_approvals_hint", "市场部与财务部各一人审批（均不能是批次的创建人）后，批次方可售卡、激活。", "Once one marketing and one finance staff member (neither the batch's maker) have approved it, its cards may be sold and activated."),
    ("approver_role", "审批角色", "Role"),
    ("approver_marketing", "市场部", "Marketing"),
    ("approver_finance", "财务部", "Finance"),
    ("approved_by", "审批人", "Approved by"),
    ("waiting", "等待审批", "waiting"),
    ("approve_as", "审批通过：", "Approve as"),
    // Messages and errors
    ("back", "返回", "Back"),
    ("forbidden_title", "无权访问", "Not allowed"),
    ("forbidden", "您的角色无权进行此操作。", "Your role may not do this."),
    ("not_found_title", "未找到", "Not found"),
    ("refused_title", "操作未完成", "Not done"),
    ("error_code", "错误码", "Error code"),
    ("csrf_refused", "表单已失效，请刷新页面后重试。", "The form has expired; reload the page and try again."),
    ("applied_refused", "已复核，但执行时被规则拒绝：", "Approved, but refused when applied:"),
    ("yes", "是", "yes"),
    ("no", "否", "no"),
];

/// The catalogue in one language, for the templates.
pub fn catalogue(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    MESSAGES.iter().map(|&(key, zh, en)| (key, if lang == Lang::Zh { zh } else { en })).collect()
}

/// One label, in one language; the key itself if the catalogue lacks it (a test checks none is).
pub fn label(lang: Lang, key: &str) -> &str {
    MESSAGES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, zh, en)| if lang == Lang::Zh { zh } else { en })
        .unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_once_in_the_catalogue_with_both_languages() {
        let mut seen = std::collections::BTreeSet::new();
        for (key, zh, en) in MESSAGES {
            assert!(seen.insert(*key), "{key} twice");
            assert!(!zh.is_empty() && !en.is_empty(), "{key}");
        }
    }
}
