//! Products (产品) and their signing (签约): what a merchant may do with the platform's money flows.
//! The platform defines its products in configuration (`[[products]]`: balance payment, recharge,
//! withdrawal, escrow collection, split payment, member cards, collection code ...), each with a fee
//! rate, the merchant types allowed to sign it and whether only internal customers may (article 003:
//! some products are not offered outside the group). A merchant applies to sign one; staff review the
//! application (maker-checker); a signed product may be suspended, resumed and terminated.
//!
//! In the hierarchy (商户派) a merchant under a parent gets a product only from its parent: the parent
//! signs it first, then authorises it to the child, one child at a time. A child's signing is only as
//! good as its parent's: what is not approved above is never had below (the articles' "未审核"
//! problem), and suspending or terminating a signing above takes it from everything below.
//!
//! Every money flow that reaches a merchant, or that a merchant's account makes, names the product it
//! uses ([`PlatformProduct`]); a merchant without it signed is refused with `product_not_signed`,
//! naming the product.

use super::customer::CustomerScope;
use super::merchant::MerchantTypeCode;

rejection_codes! {
    /// Why a product or signing rule refused.
    pub enum ProductError {
        NotFound => "product_not_found", 404, "no product with this code is configured",
        CodeInvalid => "product_code_invalid", 422, "a product code is 1 to 32 lowercase letters, digits or '_'",
        FeeRateInvalid => "product_fee_rate_invalid", 422,
            "a product's fee rate is 0 to 10000 basis points (万分之), and its name 1 to 50 characters",
        TypeNotAllowed => "product_type_not_allowed", 422,
            "this product is not signed by merchants of this type",
        InternalOnly => "product_internal_only", 422,
            "this product is offered to internal customers only (the group's own companies and people)",
        AlreadySigned => "product_already_signed", 409,
            "the merchant has this product signed, or an application or authorisation of it not ended",
        SigningNotFound => "product_signing_not_found", 404, "the merchant has no signing of this product",
        NotUnderReview => "product_signing_not_under_review", 409, "the signing is not under review",
        StatusChangeNotAllowed => "product_signing_status_change_not_allowed", 409,
            "a signing is suspended only when signed, resumed only when suspended, and a terminated, rejected or \
             reviewed one stays so",
        ReviewByStaffOnly => "product_review_staff_only", 403,
            "an application to sign a product is decided by staff: one staff member's decision, approved by another",
        ReviewReasonRequired => "product_review_reason_required", 422, "rejecting an application takes a reason",
        MerchantNotOpen => "product_merchant_not_open", 409, "a rejected or closed merchant signs no product",
        FromParent => "product_from_parent", 422,
            "a merchant under a parent gets its products from its parent's authorisation, not from an application",
        ParentNotSigned => "product_parent_not_signed", 422,
            "the parent has not this product signed (approved, not suspended, and so on up the hierarchy)",
        NotChild => "product_authorisation_not_child", 422,
            "a merchant authorises products only to the merchants directly under it",
        NotAuthorised => "product_revoked_by_authoriser_only", 409,
            "this signing was not authorised by this merchant: only its authoriser revokes it",
        TooMany => "product_signings_too_many", 409,
            "the merchant has as many signings as its record keeps (100, ended ones included)",
    }
}

rejection_codes! {
    /// A money flow refused because the merchant receiving or acting has not the product it uses
    /// signed (or has it suspended): the code is one, the message names the product.
    pub enum ProductNotSigned {
        BalancePayment => "product_not_signed", 422,
            "the merchant has not the product balance_payment (余额支付) signed, or it is suspended",
        Recharge => "product_not_signed", 422,
            "the merchant has not the product recharge (充值) signed, or it is suspended",
        Withdrawal => "product_not_signed", 422,
            "the merchant has not the product withdrawal (提现) signed, or it is suspended",
        EscrowCollection => "product_not_signed", 422,
            "the merchant has not the product escrow_collection (担保收款) signed, or it is suspended",
        SplitPayment => "product_not_signed", 422,
            "the merchant has not the product split_payment (分账) signed, or it is suspended",
        MemberCards => "product_not_signed", 422,
            "the merchant has not the product member_cards (会员卡) signed, or it is suspended",
    }
}

rejection_codes! {
    /// Why a merchant's authorisation of a service provider (服务商) was refused.
    pub enum ProviderError {
        Unknown => "provider_unknown", 422, "no merchant has the id named as the service provider",
        NotServiceProvider => "provider_not_service_provider", 422,
            "the merchant named is not at a service-provider level (a level configured with `service_provider`)",
        NotActive => "provider_not_active", 422, "the service provider is not active",
        SelfNamed => "provider_self", 422, "a merchant does not authorise itself as its own service provider",
        ProductsInvalid => "provider_products_invalid", 422,
            "an authorisation names 1 to 20 distinct products, each configured",
        AuthorisationNotFound => "provider_authorisation_not_found", 404,
            "the merchant has authorised this service provider nothing that is not revoked",
        TooMany => "provider_authorisations_too_many", 409,
            "the merchant's record keeps at most 50 authorisations of service providers, revoked ones included",
    }
}

/// The products the platform's money flows use, each named by its code in `[[products]]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PlatformProduct {
    /// Payments from a wallet's balance (immediate, or authorised and captured), deposits.
    BalancePayment,
    /// Recharges into a merchant's account.
    Recharge,
    /// Withdrawals from a merchant's account.
    Withdrawal,
    /// Escrow payments (担保交易): held, then released to the merchant.
    EscrowCollection,
    /// Split payments (分账): one payment shared among receivers.
    SplitPayment,
    /// Member cards' payments (会员卡).
    MemberCards,
}

impl PlatformProduct {
    pub const ALL: [PlatformProduct; 6] = [
        PlatformProduct::BalancePayment,
        PlatformProduct::Recharge,
        PlatformProduct::Withdrawal,
        PlatformProduct::EscrowCollection,
        PlatformProduct::SplitPayment,
        PlatformProduct::MemberCards,
    ];

    pub fn code(self) -> &'static str {
        match self {
            PlatformProduct::BalancePayment => "balance_payment",
            PlatformProduct::Recharge => "recharge",
            PlatformProduct::Withdrawal => "withdrawal",
            PlatformProduct::EscrowCollection => "escrow_collection",
            PlatformProduct::SplitPayment => "split_payment",
            PlatformProduct::MemberCards => "member_cards",
        }
    }

    /// The refusal of a merchant without it signed.
    pub fn not_signed(self) -> ProductNotSigned {
        match self {
            PlatformProduct::BalancePayment => ProductNotSigned::BalancePayment,
            PlatformProduct::Recharge => ProductNotSigned::Recharge,
            PlatformProduct::Withdrawal => ProductNotSigned::Withdrawal,
            PlatformProduct::EscrowCollection => ProductNotSigned::EscrowCollection,
            PlatformProduct::SplitPayment => ProductNotSigned::SplitPayment,
            PlatformProduct::MemberCards => ProductNotSigned::MemberCards,
        }
    }
}

/// The highest fee rate, in basis points: all of it.
pub const FEE_RATE_BP_MAX: u32 = 10_000;

/// A product as configured (`[[products]]`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProductSpec {
    /// 1 to 32 lowercase letters, digits or '_'.
    pub code: String,
    pub name: String,
    /// The fee the platform charges on what the product moves, in basis points (万分之).
    pub fee_rate_bp: u32,
    /// The merchant types that may sign it.
    pub merchant_types: Vec<MerchantTypeCode>,
    /// Only merchants of internal customers may sign it.
    pub internal_only: bool,
}

impl ProductSpec {
    /// Whether a merchant of `merchant_type`, of a customer of `scope`, may sign it.
    pub fn check_signer(&self, merchant_type: &str, scope: CustomerScope) -> Result<(), ProductError> {
        if !self.merchant_types.iter().any(|t| t.as_str() == merchant_type) {
            return Err(ProductError::TypeNotAllowed);
        }
        if self.internal_only && scope != CustomerScope::Internal {
            return Err(ProductError::InternalOnly);
        }
        Ok(())
    }
}

/// The configured products.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Products(Vec<ProductSpec>);

impl Products {
    /// Checks a configuration: well-formed, distinct codes; fee rates within [`FEE_RATE_BP_MAX`];
    /// names of 1 to 50 characters.
    pub fn new(products: Vec<ProductSpec>) -> Result<Products, ProductError> {
        for (i, p) in products.iter().enumerate() {
            let ok = (1..=32).contains(&p.code.len())
                && p.code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok || products[..i].iter().any(|o| o.code == p.code) {
                return Err(ProductError::CodeInvalid);
            }
            if p.fee_rate_bp > FEE_RATE_BP_MAX || !(1..=50).contains(&p.name.chars().count()) {
                return Err(ProductError::FeeRateInvalid);
            }
        }
        Ok(Products(products))
    }

    /// The articles' products, on the default merchant types:
    ///
    /// | code | 名称 | fee (bp) | signed by |
    /// |---|---|---|---|
    /// | balance_payment | 余额支付 | 60 | personal, individual_business, enterprise |
    /// | recharge | 充值 | 0 | individual_business, enterprise |
    /// | withdrawal | 提现 | 10 | personal, individual_business, enterprise |
    /// | escrow_collection | 担保收款 | 60 | individual_business, enterprise |
    /// | split_payment | 分账 | 30 | enterprise |
    /// | member_cards | 会员卡 | 30 | individual_business, enterprise |
    /// | collection_code | 收款码 | 38 | personal, individual_business |
    ///
    /// None is internal-only by default; a platform marks its own (代扣, 批量扣款 ...) so.
    pub fn default_set() -> Products {
        let types = |codes: &[&str]| {
            codes.iter().map(|c| MerchantTypeCode::parse(c).expect("a default merchant type code is valid")).collect()
        };
        let all = ["personal", "individual_business", "enterprise"];
        let business = ["individual_business", "enterprise"];
        let spec = |code: &str, name: &str, fee_rate_bp: u32, merchant_types: Vec<MerchantTypeCode>| ProductSpec {
            code: code.to_owned(),
            name: name.to_owned(),
            fee_rate_bp,
            merchant_types,
            internal_only: false,
        };
        Products::new(vec![
            spec("balance_payment", "余额支付", 60, types(&all)),
            spec("recharge", "充值", 0, types(&business)),
            spec("withdrawal", "提现", 10, types(&all)),
            spec("escrow_collection", "担保收款", 60, types(&business)),
            spec("split_payment", "分账", 30, types(&["enterprise"])),
            spec("member_cards", "会员卡", 30, types(&business)),
            spec("collection_code", "收款码", 38, types(&["personal", "individual_business"])),
        ])
        .expect("the default products are valid")
    }

    pub fn find(&self, code: &str) -> Result<&ProductSpec, ProductError> {
        self.0.iter().find(|p| p.code == code).ok_or(ProductError::NotFound)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ProductSpec> {
        self.0.iter()
    }
}

/// A signing's status.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SigningStatus {
    /// Applied for; waits for staff.
    UnderReview,
    /// Approved by staff, or authorised by the parent: the product may be used.
    Signed,
    /// Refused by the review, for good (a new application is a new signing).
    Rejected,
    /// Stopped for a while: the product may not be used until resumed.
    Suspended,
    /// Ended for good (or revoked by the parent that authorised it).
    Terminated,
}

impl SigningStatus {
    pub const ALL: [SigningStatus; 5] = [
        SigningStatus::UnderReview,
        SigningStatus::Signed,
        SigningStatus::Rejected,
        SigningStatus::Suspended,
        SigningStatus::Terminated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningStatus::UnderReview => "under_review",
            SigningStatus::Signed => "signed",
            SigningStatus::Rejected => "rejected",
            SigningStatus::Suspended => "suspended",
            SigningStatus::Terminated => "terminated",
        }
    }

    pub fn parse(text: &str) -> Option<SigningStatus> {
        SigningStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Not ended: a new application or authorisation of the same product is refused while one is.
    pub fn is_open(self) -> bool {
        matches!(self, SigningStatus::UnderReview | SigningStatus::Signed | SigningStatus::Suspended)
    }

    /// The status staff's decision leads to: approved, signed; rejected, rejected.
    pub fn review(self, approve: bool) -> Result<SigningStatus, ProductError> {
        if self != SigningStatus::UnderReview {
            return Err(ProductError::NotUnderReview);
        }
        Ok(if approve { SigningStatus::Signed } else { SigningStatus::Rejected })
    }

    /// Suspend a signed product, resume (`Signed`) a suspended one, terminate any that is not ended.
    pub fn change_to(self, to: SigningStatus) -> Result<SigningStatus, ProductError> {
        let allowed = match to {
            SigningStatus::Suspended => self == SigningStatus::Signed,
            SigningStatus::Signed => self == SigningStatus::Suspended,
            SigningStatus::Terminated => self.is_open(),
            _ => false,
        };
        allowed.then_some(to).ok_or(ProductError::StatusChangeNotAllowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signings_move_only_as_the_review_and_staff_allow() {
        use SigningStatus::*;
        assert_eq!(UnderReview.review(true), Ok(Signed));
        assert_eq!(UnderReview.review(false), Ok(Rejected));
        assert_eq!(Signed.review(true), Err(ProductError::NotUnderReview));
        assert_eq!(Signed.change_to(Suspended), Ok(Suspended));
        assert_eq!(Suspended.change_to(Signed), Ok(Signed));
        assert_eq!(UnderReview.change_to(Suspended), Err(ProductError::StatusChangeNotAllowed));
        assert_eq!(Suspended.change_to(Terminated), Ok(Terminated));
        assert_eq!(Terminated.change_to(Terminated), Err(ProductError::StatusChangeNotAllowed));
        assert_eq!(Rejected.change_to(Signed), Err(ProductError::StatusChangeNotAllowed));
    }

    #[test]
    fn the_default_products_name_the_types_that_sign_them_and_refusals_name_the_product() {
        let products = Products::default_set();
        for used in PlatformProduct::ALL {
            assert!(products.find(used.code()).is_ok(), "{} is a default product", used.code());
            assert_eq!(used.not_signed().code(), "product_not_signed");
            assert!(used.not_signed().message().contains(used.code()));
        }
        let split = products.find("split_payment").unwrap();
        assert_eq!(split.check_signer("personal", CustomerScope::External), Err(ProductError::TypeNotAllowed));
        assert_eq!(split.check_signer("enterprise", CustomerScope::External), Ok(()));
        let internal = ProductSpec { internal_only: true, ..split.clone() };
        assert_eq!(internal.check_signer("enterprise", CustomerScope::External), Err(ProductError::InternalOnly));
        assert_eq!(internal.check_signer("enterprise", CustomerScope::Internal), Ok(()));
        assert_eq!(products.find("nothing"), Err(ProductError::NotFound));
    }
}
