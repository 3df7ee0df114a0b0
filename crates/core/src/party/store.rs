//! Stores (门店) and terminals (终端) at the counter: a merchant's physical places of business, each
//! with its name, address, status and optionally its cashier (an operator of the merchant's member),
//! and the devices at its counter that read pay codes and send payments. A store's settings (which
//! payment methods it takes, below what amount no pay password is asked) override its merchant's.
//!
//! Statuses: a store is active until it is closed, for good; a terminal is active until it is
//! disabled, for good. A closed store takes no payment and no new terminal; a disabled terminal sends
//! no payment.

rejection_codes! {
    /// Why a store or terminal rule refused.
    pub enum StoreError {
        NameInvalid => "store_name_invalid", 422, "a store's name is 1 to 100 characters without control characters",
        AddressInvalid => "store_address_invalid", 422,
            "a store's address is 1 to 200 characters without control characters",
        CapReached => "store_limit_reached", 422,
            "the merchant has as many stores as the platform allows (stores_per_merchant_max), closed ones included",
        TerminalCapReached => "terminal_limit_reached", 422,
            "the store has as many terminals as the platform allows (terminals_per_store_max), disabled ones included",
        SerialInvalid => "terminal_serial_invalid", 422, "a terminal's serial is 1 to 64 printable ASCII characters",
        SerialTaken => "terminal_serial_taken", 409, "another terminal of the merchant has this serial",
        Closed => "store_closed", 422, "the store is closed: it takes no payments and no new terminals",
        TerminalDisabled => "terminal_disabled", 422, "the terminal is disabled: it sends no payments",
        NotReceivers => "store_not_receivers", 422, "no store of the receiving merchant has this id",
        TerminalNotStores => "terminal_not_stores", 422, "no terminal of the store (of the receiving merchant) has this id",
        MethodNotAccepted => "payment_method_not_accepted", 422, "the store does not take this payment method",
        SettingsInvalid => "store_settings_invalid", 422,
            "payment methods are 1 to 4 distinct of pay_code, phone_sms, card and balance; a threshold is 0 or more minor units",
        CashierNotMerchants => "store_cashier_not_merchants", 422,
            "the cashier is not an active operator of the merchant's member",
    }
}

/// A store's name, or its address, at most this many characters.
pub const STORE_NAME_CHARS_MAX: usize = 100;
pub const STORE_ADDRESS_CHARS_MAX: usize = 200;
/// A terminal's serial, at most this many bytes.
pub const TERMINAL_SERIAL_BYTES_MAX: usize = 64;

fn check_text(text: &str, max: usize, error: StoreError) -> Result<String, StoreError> {
    let text = text.trim();
    let ok = (1..=max).contains(&text.chars().count()) && !text.chars().any(char::is_control);
    ok.then(|| text.to_owned()).ok_or(error)
}

/// A store's name: 1 to 100 characters, no control characters.
pub fn check_name(text: &str) -> Result<String, StoreError> {
    check_text(text, STORE_NAME_CHARS_MAX, StoreError::NameInvalid)
}

/// A store's address: 1 to 200 characters, no control characters; numbers that look like a phone or
/// certificate are masked as a merchant's are.
pub fn check_address(text: &str) -> Result<String, StoreError> {
    check_text(text, STORE_ADDRESS_CHARS_MAX, StoreError::AddressInvalid)
        .map(|a| super::mask::mask_sensitive_numbers(&a))
}

/// A terminal's serial as the device reports it: 1 to 64 printable ASCII characters.
pub fn check_serial(text: &str) -> Result<String, StoreError> {
    let ok = (1..=TERMINAL_SERIAL_BYTES_MAX).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| text.to_owned()).ok_or(StoreError::SerialInvalid)
}

/// How a payer pays at a counter.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PaymentMethod {
    /// The member's pay code (付款码), read by the terminal.
    PayCode,
    /// The member's phone and the SMS code sent to it.
    PhoneSms,
    /// A member card (会员卡) of the card service.
    Card,
    /// The member's wallet, named by its member id (余额支付).
    Balance,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 4] =
        [PaymentMethod::PayCode, PaymentMethod::PhoneSms, PaymentMethod::Card, PaymentMethod::Balance];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::PayCode => "pay_code",
            PaymentMethod::PhoneSms => "phone_sms",
            PaymentMethod::Card => "card",
            PaymentMethod::Balance => "balance",
        }
    }

    pub fn parse(text: &str) -> Option<PaymentMethod> {
        PaymentMethod::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

/// Checks a list of payment methods: 1 to 4 distinct known ones. Answers them in the order given.
pub fn check_methods(methods: &[String]) -> Result<Vec<PaymentMethod>, StoreError> {
    let mut parsed: Vec<PaymentMethod> = Vec::with_capacity(methods.len());
    for text in methods {
        let method = PaymentMethod::parse(text).ok_or(StoreError::SettingsInvalid)?;
        if parsed.contains(&method) {
            return Err(StoreError::SettingsInvalid);
        }
        parsed.push(method);
    }
    if parsed.is_empty() {
        return Err(StoreError::SettingsInvalid);
    }
    Ok(parsed)
}

/// A pay-password-free threshold: 0 or more minor units.
pub fn check_threshold(amount: i64) -> Result<i64, StoreError> {
    (amount >= 0).then_some(amount).ok_or(StoreError::SettingsInvalid)
}

/// Whether a payment of `amount` needs the payer's pay password. At or above a store's threshold it
/// does. Below it, the platform decides: where it does not require the password, none is needed;
/// where it requires one, the threshold waives it only below the platform's ceiling `free_max`
/// (小额免密 up to what the platform allows): a receiving merchant never waives its payers' consent
/// past it. Without a threshold, as the platform requires.
pub fn pay_password_needed(threshold: Option<i64>, amount: i64, platform_requires: bool, free_max: i64) -> bool {
    match threshold {
        Some(threshold) if amount >= threshold => true,
        Some(_) if platform_requires => amount >= free_max,
        Some(_) => false,
        None => platform_requires,
    }
}

/// A store's status.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum StoreStatus {
    Active,
    /// Closed for good.
    Closed,
}

impl StoreStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreStatus::Active => "active",
            StoreStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<StoreStatus> {
        [StoreStatus::Active, StoreStatus::Closed].into_iter().find(|s| s.as_str() == text)
    }

    /// Payments are taken and terminals added.
    pub fn check_open(self) -> Result<(), StoreError> {
        (self == StoreStatus::Active).then_some(()).ok_or(StoreError::Closed)
    }
}

/// A terminal's status.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TerminalStatus {
    Active,
    /// Disabled for good.
    Disabled,
}

impl TerminalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TerminalStatus::Active => "active",
            TerminalStatus::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<TerminalStatus> {
        [TerminalStatus::Active, TerminalStatus::Disabled].into_iter().find(|s| s.as_str() == text)
    }

    /// Payments are sent.
    pub fn check_active(self) -> Result<(), StoreError> {
        (self == TerminalStatus::Active).then_some(()).ok_or(StoreError::TerminalDisabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threshold_decides_the_pay_password_and_none_leaves_it_to_the_platform() {
        // The platform does not require it: the threshold asks it at or above, never below.
        assert!(pay_password_needed(Some(10_000), 10_000, false, 0));
        assert!(!pay_password_needed(Some(10_000), 9_999, false, 0));
        assert!(!pay_password_needed(None, 1_000_000, false, 0));
        // The platform requires it: waived below the threshold only under the platform's ceiling.
        assert!(!pay_password_needed(Some(10_000), 4_999, true, 5_000));
        assert!(pay_password_needed(Some(10_000), 5_000, true, 5_000));
        assert!(pay_password_needed(Some(1_000_000_000), 9_999, true, 0));
        assert!(pay_password_needed(None, 1, true, 1_000_000));
    }

    #[test]
    fn methods_are_known_distinct_and_not_none() {
        let texts = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_methods(&texts(&["pay_code", "balance"])),
            Ok(vec![PaymentMethod::PayCode, PaymentMethod::Balance])
        );
        assert_eq!(check_methods(&texts(&[])), Err(StoreError::SettingsInvalid));
        assert_eq!(check_methods(&texts(&["cash"])), Err(StoreError::SettingsInvalid));
        assert_eq!(check_methods(&texts(&["card", "card"])), Err(StoreError::SettingsInvalid));
        assert_eq!(check_threshold(-1), Err(StoreError::SettingsInvalid));
    }

    #[test]
    fn names_addresses_and_serials_are_checked() {
        assert_eq!(check_name("  东城店 "), Ok("东城店".to_owned()));
        assert_eq!(check_name(""), Err(StoreError::NameInvalid));
        assert_eq!(check_address("a\nb"), Err(StoreError::AddressInvalid));
        assert_eq!(check_serial("SN-0001"), Ok("SN-0001".to_owned()));
        assert_eq!(check_serial("SN 1"), Err(StoreError::SerialInvalid));
        assert_eq!(StoreStatus::Closed.check_open(), Err(StoreError::Closed));
        assert_eq!(TerminalStatus::Disabled.check_active(), Err(StoreError::TerminalDisabled));
    }
}
