//! What an API client (and, mapped from their roles, a staff member) may do: scopes. Each endpoint
//! needs exactly one (the table is the http crate's `scopes.rs`); a caller holds a set of them.
//!
//! The names are part of the API contract (they are stored with each client and typed on the command
//! line), so a scope is never renamed.

use std::fmt;

/// One permission, named `area:access`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// The raw ledger's reads: accounts, entries, balances, transfers.
    LedgerRead,
    /// The raw ledger's writes: accounts opened, closed and blocked; transfers, holds, batches.
    LedgerWrite,
    /// The three-party model's reads: members, their accounts, authentications, operators, identities,
    /// bank cards.
    PartiesRead,
    /// The three-party model's changes that a member's own platform makes: registration, activation,
    /// accounts opened and closed, operators, identities, bank cards, pay passwords.
    PartiesWrite,
    /// The wallet's reads: a member's wallet and flow, orders.
    WalletRead,
    /// The wallet's money flows: recharges, payments, refunds, withdrawals, deposits, transfers
    /// between members, subsidies.
    WalletWrite,
    /// The back office's reads: customers, the platform's accounts, freezes, adjustments.
    AdminRead,
    /// The back office's decisions: customer status and merges, account status, freezes,
    /// adjustments and their approval, recharge approval, withdrawal review, authentication decisions.
    AdminWrite,
    /// The audit log.
    AuditRead,
    /// Member cards' reads: card types, number segments, batches, cards and their transactions.
    CardsRead,
    /// Member cards' changes: types, segments, batches and their approval, a card's sale, activation,
    /// binding, freezes, recharges, payments and refunds.
    CardsWrite,
}

impl Scope {
    /// Every scope, in the order they are listed.
    pub const ALL: [Scope; 11] = [
        Scope::LedgerRead,
        Scope::LedgerWrite,
        Scope::PartiesRead,
        Scope::PartiesWrite,
        Scope::WalletRead,
        Scope::WalletWrite,
        Scope::AdminRead,
        Scope::AdminWrite,
        Scope::AuditRead,
        Scope::CardsRead,
        Scope::CardsWrite,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::LedgerRead => "ledger:read",
            Scope::LedgerWrite => "ledger:write",
            Scope::PartiesRead => "parties:read",
            Scope::PartiesWrite => "parties:write",
            Scope::WalletRead => "wallet:read",
            Scope::WalletWrite => "wallet:write",
            Scope::AdminRead => "admin:read",
            Scope::AdminWrite => "admin:write",
            Scope::AuditRead => "audit:read",
            Scope::CardsRead => "cards:read",
            Scope::CardsWrite => "cards:write",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text)
    }

    /// Whether a client bound to one member may hold it. A bound client acts for that member: its
    /// parties, its wallet and the cards of its merchants. The raw ledger, the back office and the
    /// audit log span the whole platform, so no bound client holds their scopes.
    pub const fn bindable(self) -> bool {
        matches!(
            self,
            Scope::PartiesRead
                | Scope::PartiesWrite
                | Scope::WalletRead
                | Scope::WalletWrite
                | Scope::CardsRead
                | Scope::CardsWrite
        )
    }

    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u16);

impl Scopes {
    pub const fn none() -> Scopes {
        Scopes(0)
    }

    pub fn all() -> Scopes {
        Scope::ALL.into_iter().collect()
    }

    /// Every scope a bound client may hold (see [`Scope::bindable`]).
    pub fn bindable() -> Scopes {
        Scope::ALL.into_iter().filter(|scope| scope.bindable()).collect()
    }

    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub const fn with(self, scope: Scope) -> Scopes {
        Scopes(self.0 | scope.bit())
    }

    /// The scopes in both sets.
    pub const fn and(self, other: Scopes) -> Scopes {
        Scopes(self.0 & other.0)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes in [`Scope::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |scope| self.contains(*scope))
    }

    /// Parses names separated by spaces or commas (`"ledger:read wallet:write"`); an unknown name is
    /// an error naming it.
    pub fn parse_list(text: &str) -> Result<Scopes, UnknownScope> {
        text.split([' ', ',']).filter(|name| !name.is_empty()).try_fold(Scopes::none(), |scopes, name| {
            Scope::parse(name).map(|scope| scopes.with(scope)).ok_or_else(|| UnknownScope(name.to_owned()))
        })
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Scopes {
        scopes.into_iter().fold(Scopes::none(), Scopes::with)
    }
}

/// The names, separated by single spaces, in [`Scope::ALL`]'s order (what [`Scopes::parse_list`]
/// reads back).
impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A name that is no scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScope(pub String);

impl fmt::Display for UnknownScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scope::ALL.iter().map(|scope| scope.as_str()).collect();
        write!(f, "{:?} is not a scope; the scopes are {}", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownScope {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_reads_back_from_its_name() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
            let (area, access) = scope.as_str().split_once(':').expect("area:access");
            assert!(matches!(access, "read" | "write"), "{scope}");
            assert!(!area.is_empty());
        }
        assert_eq!(Scope::parse("ledger"), None);
        assert_eq!(Scope::parse("LEDGER:READ"), None);
    }

    #[test]
    fn a_set_lists_its_scopes_and_reads_back() {
        let set = Scopes::none().with(Scope::WalletWrite).with(Scope::LedgerRead);
        assert_eq!(set.to_string(), "ledger:read wallet:write");
        assert_eq!(Scopes::parse_list(&set.to_string()), Ok(set));
        assert_eq!(Scopes::parse_list("wallet:write,ledger:read"), Ok(set));
        assert_eq!(Scopes::parse_list(""), Ok(Scopes::none()));
        assert_eq!(Scopes::parse_list("ledger:read ledger:admin"), Err(UnknownScope("ledger:admin".to_owned())));
        assert_eq!(Scopes::all().iter().count(), 11);
        assert!(Scopes::all().contains(Scope::AuditRead));
        assert!(!set.contains(Scope::WalletRead));
    }

    #[test]
    fn a_bound_client_holds_only_its_members_parties_wallet_and_cards() {
        let bindable: Vec<&str> = Scopes::bindable().iter().map(Scope::as_str).collect();
        assert_eq!(
            bindable,
            ["parties:read", "parties:write", "wallet:read", "wallet:write", "cards:read", "cards:write"]
        );
        assert_eq!(Scopes::all().and(Scopes::bindable()), Scopes::bindable());
    }
}
