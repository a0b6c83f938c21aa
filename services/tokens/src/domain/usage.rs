//! T3: which data sources use a token. The owner's data sources naming it use it as masters;
//! another account's data source uses it only through a grant (I6).

use std::collections::HashMap;

use uuid::Uuid;

/// A data source that names a token, as the library tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSourceRef {
    pub account_id: Uuid,
    pub id: Uuid,
    pub name: String,
}

/// A use of a token by a data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUse {
    pub account_id: Uuid,
    pub data_source_id: Uuid,
    pub data_source_name: String,
    /// The grant it uses the token through; none for the owner's own data sources.
    pub grant_id: Option<Uuid>,
}

impl TokenUse {
    /// A data source of the token's own account.
    pub fn is_master(&self) -> bool {
        self.grant_id.is_none()
    }
}

/// The uses of a token of `owner` among `data_sources`: those of the owner, and those of
/// other accounts that hold a grant (`grants`: data source id to grant id). A data source of
/// another account without a grant cannot use the token and is not listed.
pub fn uses(
    owner: Uuid,
    data_sources: Vec<DataSourceRef>,
    grants: &HashMap<Uuid, Uuid>,
) -> Vec<TokenUse> {
    data_sources
        .into_iter()
        .filter_map(|data_source| {
            let grant_id = if data_source.account_id == owner {
                None
            } else {
                Some(*grants.get(&data_source.id)?)
            };
            Some(TokenUse {
                account_id: data_source.account_id,
                data_source_id: data_source.id,
                data_source_name: data_source.name,
                grant_id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owner_and_grantees_use_a_token() {
        let (owner, grantee, stranger) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let source = |account_id| DataSourceRef {
            account_id,
            id: Uuid::now_v7(),
            name: "d".into(),
        };
        let (master, instance, other) = (source(owner), source(grantee), source(stranger));
        let grant = Uuid::now_v7();
        let grants = HashMap::from([(instance.id, grant)]);
        let found = uses(
            owner,
            vec![master.clone(), instance.clone(), other],
            &grants,
        );
        assert_eq!(found.len(), 2);
        assert!(found[0].is_master() && found[0].data_source_id == master.id);
        assert_eq!(found[1].grant_id, Some(grant));
    }
}
