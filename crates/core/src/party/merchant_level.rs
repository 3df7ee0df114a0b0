//! The merchant school's hierarchy (商户派): organisations in levels (channel partner 渠道商, agent
//! 代理商, service provider 服务商, merchant 商户, store 门店), as configured (`[[merchant_levels]]`):
//! which levels exist, which level may sit under which (and which at the top, without a parent),
//! which merchant types each level mounts, and how deep the hierarchy may grow (`merchant_depth_max`).
//!
//! A level may be **special** (特约商户): a merchant of it opens sub-merchants (子商户) under itself
//! through its own client. A level may be a **sub-merchant** level: its merchants have no login or
//! client of their own, sit only under a special level's merchant and have nothing under them, so
//! that the member school's two levels (a special merchant and its sub-merchants) are never exceeded.
//!
//! A merchant opened without a level stands outside the hierarchy: at the top, with nothing under it,
//! as every merchant did before levels were configured.

use super::merchant::{MerchantError, MerchantTypeCode};

/// The deepest hierarchy unless configured: channel partner, agent, service provider, merchant, store.
pub const DEPTH_MAX_DEFAULT: usize = 5;
/// The deepest the configuration may ask for.
pub const DEPTH_MAX_LIMIT: usize = 16;

/// A level of the hierarchy as configured (`[[merchant_levels]]`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MerchantLevelSpec {
    /// 1 to 32 lowercase letters, digits or '_' (`channel_partner`, `agent`, `store` ...).
    pub code: String,
    pub name: String,
    /// A merchant of it may stand at the top, without a parent.
    pub top: bool,
    /// The levels a merchant of it may sit under.
    pub under: Vec<String>,
    /// The merchant types it mounts; empty: every type.
    pub merchant_types: Vec<MerchantTypeCode>,
    /// A special merchant's level (特约商户): its merchants open sub-merchants through their client.
    pub special: bool,
    /// A sub-merchant's level (子商户): no login or client of its own, under a special merchant only.
    pub sub_merchant: bool,
    /// A service provider's level (服务商): merchants may authorise a merchant of it for named products,
    /// which its client then uses for them.
    pub service_provider: bool,
}

impl MerchantLevelSpec {
    /// Whether it mounts merchants of `merchant_type`.
    pub fn mounts(&self, merchant_type: &MerchantTypeCode) -> bool {
        self.merchant_types.is_empty() || self.merchant_types.contains(merchant_type)
    }
}

/// Where a merchant is put: under a parent (its level, if it has one, and its depth, 1 at the
/// top), or at the top.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Parent<'a> {
    pub level: Option<&'a str>,
    pub depth: usize,
}

/// The configured levels and the deepest the hierarchy may be.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MerchantLevels {
    levels: Vec<MerchantLevelSpec>,
    depth_max: usize,
}

impl MerchantLevels {
    /// Checks a configuration: distinct, well-formed codes; `under` naming configured levels; a
    /// sub-merchant level neither at the top nor under anything but special levels, and nothing under
    /// it; a depth of 1 to [`DEPTH_MAX_LIMIT`]. Answers what is wrong, for the configuration's error.
    pub fn new(levels: Vec<MerchantLevelSpec>, depth_max: usize) -> Result<MerchantLevels, String> {
        if !(1..=DEPTH_MAX_LIMIT).contains(&depth_max) {
            return Err(format!("merchant_depth_max is 1 to {DEPTH_MAX_LIMIT}"));
        }
        for (i, level) in levels.iter().enumerate() {
            let code = &level.code;
            let ok = (1..=32).contains(&code.len())
                && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(format!("level {code:?}: a code is 1 to 32 lowercase letters, digits or '_'"));
            }
            if levels[..i].iter().any(|l| l.code == *code) {
                return Err(format!("level {code}: configured twice"));
            }
            if !level.top && level.under.is_empty() {
                return Err(format!("level {code}: neither at the top nor under any level"));
            }
            for parent in &level.under {
                let Some(parent) = levels.iter().find(|l| l.code == *parent) else {
                    return Err(format!("level {code}: under {parent:?}, which is not configured"));
                };
                if parent.sub_merchant {
                    return Err(format!("level {code}: nothing sits under a sub-merchant level ({})", parent.code));
                }
                if level.sub_merchant && !parent.special {
                    return Err(format!("level {code}: a sub-merchant level sits under special levels only"));
                }
            }
            if level.sub_merchant && (level.top || level.special) {
                return Err(format!("level {code}: a sub-merchant level is neither at the top nor special"));
            }
        }
        Ok(MerchantLevels { levels, depth_max })
    }

    /// The articles' five: a channel partner at the top; agents under it; service providers under
    /// either; merchants at the top or under any of them, special (they open sub-merchants); stores,
    /// the merchants' sub-merchants. Every level mounts every type.
    pub fn default_set() -> MerchantLevels {
        let level = |code: &str, name: &str, top: bool, under: &[&str]| MerchantLevelSpec {
            code: code.to_owned(),
            name: name.to_owned(),
            top,
            under: under.iter().map(|u| (*u).to_owned()).collect(),
            merchant_types: Vec::new(),
            special: false,
            sub_merchant: false,
            service_provider: code == "service_provider",
        };
        let levels = vec![
            level("channel_partner", "渠道商", true, &[]),
            level("agent", "代理商", false, &["channel_partner"]),
            level("service_provider", "服务商", false, &["channel_partner", "agent"]),
            MerchantLevelSpec {
                special: true,
                ..level("merchant", "商户", true, &["channel_partner", "agent", "service_provider"])
            },
            MerchantLevelSpec { sub_merchant: true, ..level("store", "门店", false, &["merchant"]) },
        ];
        MerchantLevels::new(levels, DEPTH_MAX_DEFAULT).expect("the default levels are valid")
    }

    pub fn iter(&self) -> impl Iterator<Item = &MerchantLevelSpec> {
        self.levels.iter()
    }

    pub fn depth_max(&self) -> usize {
        self.depth_max
    }

    pub fn find(&self, code: &str) -> Result<&MerchantLevelSpec, MerchantError> {
        self.levels.iter().find(|l| l.code == code).ok_or(MerchantError::LevelUnknown)
    }

    /// Checks a merchant of `level` (None: outside the hierarchy) and `merchant_type` put under
    /// `parent` (None: at the top), opened as a sub-merchant or not, with `below` levels of merchants
    /// under it already (0 for a new one); answers its depth (1 at the top).
    pub fn place(
        &self,
        level: Option<&str>,
        merchant_type: &MerchantTypeCode,
        parent: Option<Parent<'_>>,
        as_sub_merchant: bool,
        below: usize,
    ) -> Result<usize, MerchantError> {
        let Some(level) = level else {
            // Outside the hierarchy: at the top, alone.
            return match (parent, as_sub_merchant) {
                (None, false) => Ok(1),
                _ => Err(MerchantError::LevelRequired),
            };
        };
        let spec = self.find(level)?;
        if !spec.mounts(merchant_type) {
            return Err(MerchantError::LevelTypeNotAllowed);
        }
        if spec.sub_merchant != as_sub_merchant {
            return Err(if as_sub_merchant { MerchantError::NotSpecial } else { MerchantError::LevelNotAllowedHere });
        }
        let depth = match parent {
            None if spec.top => 1,
            None => return Err(MerchantError::LevelNotAllowedHere),
            Some(parent) => {
                let allowed = parent.level.is_some_and(|p| spec.under.iter().any(|u| u == p));
                if !allowed {
                    return Err(if as_sub_merchant {
                        MerchantError::NotSpecial
                    } else {
                        MerchantError::LevelNotAllowedHere
                    });
                }
                parent.depth + 1
            }
        };
        if depth + below > self.depth_max {
            return Err(MerchantError::DepthExceeded);
        }
        Ok(depth)
    }

    /// Whether a merchant of `level` opens sub-merchants (a special merchant, 特约商户).
    pub fn is_special(&self, level: Option<&str>) -> bool {
        level.and_then(|l| self.find(l).ok()).is_some_and(|l| l.special)
    }

    /// The sub-merchant levels a merchant of `level` may open.
    pub fn sub_merchant_levels<'a>(&'a self, level: &'a str) -> impl Iterator<Item = &'a MerchantLevelSpec> + 'a {
        self.levels.iter().filter(move |l| l.sub_merchant && l.under.iter().any(|u| u == level))
    }
}

impl Default for MerchantLevels {
    fn default() -> Self {
        MerchantLevels::default_set()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any() -> MerchantTypeCode {
        MerchantTypeCode::parse("enterprise").unwrap()
    }

    #[test]
    fn levels_sit_where_configured_and_no_deeper_than_allowed() {
        let levels = MerchantLevels::default_set();
        let top = |level| levels.place(Some(level), &any(), None, false, 0);
        assert_eq!(top("channel_partner"), Ok(1));
        assert_eq!(top("agent"), Err(MerchantError::LevelNotAllowedHere));
        let under = |level, parent, depth| {
            levels.place(Some(level), &any(), Some(Parent { level: Some(parent), depth }), false, 0)
        };
        assert_eq!(under("agent", "channel_partner", 1), Ok(2));
        assert_eq!(under("channel_partner", "agent", 2), Err(MerchantError::LevelNotAllowedHere));
        assert_eq!(under("merchant", "service_provider", 3), Ok(4));
        // A store is a sub-merchant: opened as one only, under a special merchant only.
        assert_eq!(under("store", "merchant", 4), Err(MerchantError::LevelNotAllowedHere));
        let sub =
            |parent, depth| levels.place(Some("store"), &any(), Some(Parent { level: Some(parent), depth }), true, 0);
        assert_eq!(sub("merchant", 4), Ok(5));
        assert_eq!(sub("agent", 2), Err(MerchantError::NotSpecial));
        assert_eq!(
            levels.place(Some("store"), &any(), Some(Parent { level: Some("merchant"), depth: 5 }), true, 0),
            Err(MerchantError::DepthExceeded)
        );
        // A merchant moved with two levels below it.
        assert_eq!(
            levels.place(Some("agent"), &any(), Some(Parent { level: Some("channel_partner"), depth: 1 }), false, 3),
            Ok(2)
        );
        assert_eq!(
            levels.place(Some("agent"), &any(), Some(Parent { level: Some("channel_partner"), depth: 1 }), false, 4),
            Err(MerchantError::DepthExceeded)
        );
        // Outside the hierarchy: alone at the top.
        assert_eq!(levels.place(None, &any(), None, false, 0), Ok(1));
        assert_eq!(
            levels.place(None, &any(), Some(Parent { level: Some("agent"), depth: 2 }), false, 0),
            Err(MerchantError::LevelRequired)
        );
    }

    #[test]
    fn a_configuration_is_checked() {
        let level = |code: &str, under: &[&str], sub_merchant: bool| MerchantLevelSpec {
            code: code.to_owned(),
            name: code.to_owned(),
            top: under.is_empty(),
            under: under.iter().map(|u| (*u).to_owned()).collect(),
            merchant_types: Vec::new(),
            special: false,
            sub_merchant,
            service_provider: false,
        };
        assert!(MerchantLevels::new(vec![level("a", &["b"], false)], 3).is_err());
        assert!(MerchantLevels::new(vec![level("a", &[], false), level("s", &["a"], true)], 3).is_err());
        assert!(MerchantLevels::new(vec![level("a", &[], false)], 0).is_err());
        assert!(MerchantLevels::new(vec![level("a", &[], false), level("b", &["a"], false)], 2).is_ok());
    }
}
