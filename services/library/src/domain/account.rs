//! Accounts and families (DESIGN.md section 1, I1).

use uuid::Uuid;

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
