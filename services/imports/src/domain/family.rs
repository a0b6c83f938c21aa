//! Families (I1): a partner and its clients. Assets move partner → client, client →
//! partner and client → client inside one family, never across families and never to or from
//! a standard account.

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Partner,
    Client,
    /// A standard account, or one of a kind this service does not know.
    Standard,
}

/// What the family rules need of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub id: Uuid,
    pub kind: AccountKind,
    /// A client's partner.
    pub parent_id: Option<Uuid>,
}

/// The partner at the root of the account's family; none for a standard account.
pub fn family_of(account: &Account) -> Option<Uuid> {
    match account.kind {
        AccountKind::Partner => Some(account.id),
        AccountKind::Client => account.parent_id,
        AccountKind::Standard => None,
    }
}

/// True when assets may be imported between the two accounts (I1).
pub fn same_family(a: &Account, b: &Account) -> bool {
    a.id != b.id && matches!((family_of(a), family_of(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(kind: AccountKind, parent: Option<&Account>) -> Account {
        Account {
            id: Uuid::now_v7(),
            kind,
            parent_id: parent.map(|p| p.id),
        }
    }

    #[test]
    fn imports_stay_inside_one_family() {
        use AccountKind::*;
        let partner = account(Partner, None);
        let client = account(Client, Some(&partner));
        let sibling = account(Client, Some(&partner));
        let other_partner = account(Partner, None);
        let stranger = account(Client, Some(&other_partner));
        let standard = account(Standard, None);

        assert!(same_family(&partner, &client), "partner → client");
        assert!(same_family(&client, &partner), "client → partner");
        assert!(same_family(&client, &sibling), "client → client");
        assert!(!same_family(&client, &stranger), "across families");
        assert!(!same_family(&partner, &other_partner), "partner → partner");
        assert!(!same_family(&standard, &partner), "standard → partner");
        assert!(!same_family(&client, &standard), "client → standard");
        assert!(!same_family(&client, &client), "an account into itself");
    }
}
