//! Whether a data source may name a token or credential (I14, I15): an account owns its own,
//! and borrows another's only through a grant or a copy scoped to the data source.

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    /// The data source may not name it.
    None,
    Owned,
    Borrowed,
}

/// An account's own credential is owned; a copy (I5) serves only the data source it is
/// scoped to, and is borrowed there.
pub fn of_credential(scoped_to: Option<Uuid>, data_source: Option<Uuid>) -> Holding {
    match scoped_to {
        None => Holding::Owned,
        Some(scope) if Some(scope) == data_source => Holding::Borrowed,
        Some(_) => Holding::None,
    }
}

/// Only a binding to this very query serves it: an unbound (older) grant or copy serves
/// the query it was imported with, which a save that asks has changed.
pub fn serves(bound: &str, request_fingerprint: &str) -> bool {
    !bound.is_empty() && bound == request_fingerprint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_borrowed_only_by_its_own_data_source() {
        let (mine, other) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(of_credential(None, Some(mine)), Holding::Owned);
        assert_eq!(of_credential(None, None), Holding::Owned);
        assert_eq!(of_credential(Some(mine), Some(mine)), Holding::Borrowed);
        assert_eq!(of_credential(Some(mine), Some(other)), Holding::None);
        assert_eq!(of_credential(Some(mine), None), Holding::None);
    }
}
