//! What a three-party use case answers when it does not succeed.

use sanhu_core::party::{
    account::AccountError, account_type::AccountTypeError, authentication::AuthenticationError,
    bank_card::BankCardError, certificate::CertificateError, change::ChangeError, customer::CustomerError,
    enterprise::EnterpriseError, identity::IdentityError, member::MemberError, merchant::MerchantError,
    merchant::MerchantLimitError, merge::MergeError, one_time_code::OneTimeCodeError, operator::OperatorError,
    pay_password::PayPasswordError, phone_change::PhoneChangeError, product::ProductError, product::ProductNotSigned,
    product::ProviderError, real_name::RealNameError, store::StoreError,
};
use sanhu_core::reconciliation::ReconciliationError;
use sanhu_core::settlement::SettlementError;

pub use crate::failure::{Rejection, CONCURRENT_CHANGE};

use_case_failure! {
    /// Why a three-party use case did not succeed.
    pub enum PartyError;
}

macro_rules! rejections_from {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for PartyError {
            fn from(error: $error) -> Self {
                PartyError::Rejected(Rejection::of(error))
            }
        }

        // A wallet use case checks the same rules (a member's, a customer's, an account's status).
        impl From<$error> for crate::wallet::WalletFailure {
            fn from(error: $error) -> Self {
                crate::wallet::WalletFailure::Rejected(Rejection::of(error))
            }
        })*

        /// Every code a core rule of the three-party model can refuse with, for the API's registry.
        pub fn rule_codes() -> Vec<Rejection> {
            let mut codes = Vec::new();
            $(codes.extend(<$error>::ALL.iter().map(|e| Rejection::of(*e)));)*
            codes.extend(SERVICE_CODES.iter().copied());
            codes.sort_by_key(|r| r.code);
            codes.dedup_by_key(|r| r.code);
            codes
        }
    };
}

rejections_from!(
    AccountError,
    AccountTypeError,
    AuthenticationError,
    BankCardError,
    CertificateError,
    ChangeError,
    CustomerError,
    EnterpriseError,
    IdentityError,
    MemberError,
    MerchantError,
    MerchantLimitError,
    MergeError,
    OneTimeCodeError,
    OperatorError,
    PayPasswordError,
    PhoneChangeError,
    ProductError,
    ProductNotSigned,
    ProviderError,
    RealNameError,
    StoreError,
    SettlementError,
    ReconciliationError,
);

pub const CUSTOMER_NOT_FOUND: Rejection =
    Rejection { code: "customer_not_found", status: 404, message: "no customer has this id" };
pub const MEMBER_NOT_FOUND: Rejection =
    Rejection { code: "member_not_found", status: 404, message: "no member has this id" };
pub const MEMBER_ACCOUNT_NOT_FOUND: Rejection =
    Rejection { code: "member_account_not_found", status: 404, message: "no member account has this id" };
pub const AUTHENTICATION_NOT_FOUND: Rejection =
    Rejection { code: "authentication_not_found", status: 404, message: "no authentication has this id" };
pub const MERCHANT_NOT_FOUND: Rejection =
    Rejection { code: "merchant_not_found", status: 404, message: "no merchant has this id" };
pub const CERTIFICATE_TAKEN: Rejection = Rejection {
    code: "certificate_taken",
    status: 409,
    message: "another customer holds this certificate; only a verified authentication can merge the two",
};
pub const AUTHENTICATION_SUBJECT_REQUIRED: Rejection = Rejection {
    code: "authentication_subject_required",
    status: 422,
    message: "verifying an authentication needs the subject it was requested for",
};

pub const IDENTITY_NOT_FOUND: Rejection = Rejection {
    code: "identity_not_found",
    status: 404,
    message: "the member does not sign in with this login identity",
};
pub const PHONE_CHANGE_NOT_FOUND: Rejection = Rejection {
    code: "phone_change_not_found",
    status: 404,
    message: "no phone change is in progress for this member and these numbers; start one",
};
pub const BANK_CARD_NOT_FOUND: Rejection =
    Rejection { code: "bank_card_not_found", status: 404, message: "no bound bank card has this id" };
pub const CARD_ALREADY_BOUND: Rejection =
    Rejection { code: "card_already_bound", status: 409, message: "this card is already bound to the member" };
pub const OPERATOR_NOT_FOUND: Rejection =
    Rejection { code: "operator_not_found", status: 404, message: "no operator has this id" };
pub const PAY_PASSWORD_NOT_SET: Rejection =
    Rejection { code: "pay_password_not_set", status: 409, message: "no pay password has been set" };
pub const PAY_PASSWORD_ALREADY_SET: Rejection = Rejection {
    code: "pay_password_already_set",
    status: 409,
    message: "a pay password is already set; change it with the current one",
};
pub const PAY_PASSWORD_RESET_CERTIFICATE_MISMATCH: Rejection = Rejection {
    code: "pay_password_reset_certificate_mismatch",
    status: 403,
    message: "the certificate number is not the member's verified one; it counts towards the pay password's lock",
};
pub const PAY_PASSWORD_RESET_REAL_NAME_REQUIRED: Rejection = Rejection {
    code: "pay_password_reset_real_name_required",
    status: 409,
    message: "the member's customer has no verified certificate to check; the pay password cannot be reset this way",
};
pub const PAY_PASSWORD_RESET_PHONE_REQUIRED: Rejection = Rejection {
    code: "pay_password_reset_phone_required",
    status: 409,
    message: "the member has no phone to send the reset code to",
};

/// Codes the service itself answers with, besides the rules'.
const SERVICE_CODES: &[Rejection] = &[
    IDENTITY_NOT_FOUND,
    PHONE_CHANGE_NOT_FOUND,
    BANK_CARD_NOT_FOUND,
    CARD_ALREADY_BOUND,
    OPERATOR_NOT_FOUND,
    PAY_PASSWORD_NOT_SET,
    PAY_PASSWORD_ALREADY_SET,
    PAY_PASSWORD_RESET_CERTIFICATE_MISMATCH,
    PAY_PASSWORD_RESET_REAL_NAME_REQUIRED,
    PAY_PASSWORD_RESET_PHONE_REQUIRED,
    CUSTOMER_NOT_FOUND,
    MEMBER_NOT_FOUND,
    MERCHANT_NOT_FOUND,
    MEMBER_ACCOUNT_NOT_FOUND,
    AUTHENTICATION_NOT_FOUND,
    CONCURRENT_CHANGE,
    CERTIFICATE_TAKEN,
    AUTHENTICATION_SUBJECT_REQUIRED,
    super::franchise::MERCHANT_SETTING_INVALID,
    super::franchise::MERCHANT_SETTING_LOCKED,
    super::franchise::ACCOUNT_TYPE_NOT_OFFERED,
    super::franchise::MERCHANT_SETTINGS_FROM_ABOVE,
    super::franchise::MERCHANT_MEMBER_IDENTITIES_FIXED,
    super::franchise::MERCHANT_TIER_BONUS_PLATFORM_ONLY,
    super::franchise::SMS_VERIFICATION_REQUIRED_TO_REGISTER,
    super::stores::STORE_NOT_FOUND,
    super::stores::TERMINAL_NOT_FOUND,
];
