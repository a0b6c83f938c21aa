//! Accounts and families (DESIGN.md section 1, I1), and their time zones.

use chrono_tz::Tz;
use uuid::Uuid;

use super::stored::Account;

/// The time zone of an account created without one.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// The zone an IANA name (`Europe/Berlin`) names; empty means [`DEFAULT_TIME_ZONE`].
pub fn parse_time_zone(name: &str) -> Result<Tz, String> {
    if name.is_empty() {
        return Ok(Tz::UTC);
    }
    name.parse::<Tz>().map_err(|_| {
        "is not a known IANA time zone, e.g. `Europe/Berlin`, `America/New_York` or `UTC`"
            .to_owned()
    })
}

impl Account {
    /// The zone its `{date.…}` expressions resolve in (checked when saved).
    pub fn zone(&self) -> Tz {
        parse_time_zone(&self.time_zone).unwrap_or(Tz::UTC)
    }
}

trellis_platform::text_enum! {
    /// The place of an account in its family, as stored and shown.
    pub enum AccountKind {
        Partner = "partner",
        Client = "client",
        Standard = "standard",
    }
}

/// What authorization and family checks need to know about an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountPlace {
    pub id: Uuid,
    pub kind: AccountKind,
    pub parent_id: Option<Uuid>,
}

impl AccountPlace {
    /// The partner at the root of the account's family; none for a standard account.
    pub fn family(&self) -> Option<Uuid> {
        match self.kind {
            AccountKind::Partner => Some(self.id),
            AccountKind::Client => self.parent_id,
            AccountKind::Standard => None,
        }
    }

    /// True when both accounts are in one family: partner → client, client → partner,
    /// client → client of the same partner (I1).
    pub fn same_family(&self, other: &AccountPlace) -> bool {
        matches!((self.family(), other.family()), (Some(a), Some(b)) if a == b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(kind: AccountKind, parent_id: Option<Uuid>) -> AccountPlace {
        AccountPlace {
            id: Uuid::now_v7(),
            kind,
            parent_id,
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(parse_time_zone("").unwrap(), Tz::UTC);
        assert_eq!(
            parse_time_zone("Europe/Berlin").unwrap(),
            Tz::Europe__Berlin
        );
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert!(parse_time_zone("europe/berlin").is_err());
        assert!(parse_time_zone("+01:00").is_err());
    }

    #[test]
    fn families_are_a_partner_and_its_clients() {
        let partner = place(AccountKind::Partner, None);
        let client = place(AccountKind::Client, Some(partner.id));
        let sibling = place(AccountKind::Client, Some(partner.id));
        let other_partner = place(AccountKind::Partner, None);
        let stranger = place(AccountKind::Client, Some(other_partner.id));
        let standard = place(AccountKind::Standard, None);
        assert!(partner.same_family(&client));
        assert!(client.same_family(&partner));
        assert!(client.same_family(&sibling));
        assert!(!client.same_family(&stranger));
        assert!(!partner.same_family(&other_partner));
        assert!(!standard.same_family(&standard));
    }
}
