//! Families (I1): a partner and its clients. Assets move partner → client, client →
//! partner and client → client inside one family, never across families and never to or from
//! a standard account.

use trellis_proto::library::v1 as library;
use uuid::Uuid;

/// The partner at the root of the account's family; none for a standard account (or an
/// account of a kind this service does not know).
pub fn family_of(account: &library::Account) -> Option<Uuid> {
    match library::AccountKind::try_from(account.kind).ok()? {
        library::AccountKind::Partner => Uuid::parse_str(&account.id).ok(),
        library::AccountKind::Client => Uuid::parse_str(&account.parent_id).ok(),
        library::AccountKind::Standard | library::AccountKind::Unspecified => None,
    }
}

/// True when assets may be imported between the two accounts (I1).
pub fn same_family(a: &library::Account, b: &library::Account) -> bool {
    a.id != b.id && matches!((family_of(a), family_of(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(kind: library::AccountKind, parent: Option<&library::Account>) -> library::Account {
        library::Account {
            id: Uuid::now_v7().to_string(),
            kind: kind as i32,
            parent_id: parent.map(|p| p.id.clone()).unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn imports_stay_inside_one_family() {
        use library::AccountKind::*;
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
