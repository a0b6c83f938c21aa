//! Who sees and manages a provider, and which fields of a token endpoint's answer are kept
//! with a token (docs/tokens.md, "Providers").
//!
//! A provider without an owner is the operators': every account sees it, operators alone
//! change it. A provider with an owner is an OAuth app that account registered for its
//! family: the owner and the owner's clients see it (anyone else is told it does not
//! exist), and the owner's admins change it.

use std::collections::BTreeMap;

use trellis_platform::error::{ApiError, ApiResult};
use uuid::Uuid;

/// The most token parameters a provider names, and the longest name and value kept.
pub const MAX_TOKEN_PARAMETERS: usize = 20;
pub const MAX_TOKEN_PARAMETER_NAME_CHARS: usize = 100;
pub const MAX_TOKEN_PARAMETER_VALUE_CHARS: usize = 2048;

/// An account and its partner, if it is a client: whose apps it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    pub account: Uuid,
    pub parent: Option<Uuid>,
}

impl Family {
    /// Whether the account sees a provider owned by `owner` (None: the operators').
    pub fn sees(&self, owner: Option<Uuid>) -> bool {
        match owner {
            None => true,
            Some(owner) => owner == self.account || Some(owner) == self.parent,
        }
    }
}

/// Who asks to change a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// An operator: every provider.
    Operator,
    /// An admin signed into `family.account`: that account's own apps.
    Admin(Family),
}

impl Manager {
    /// Whether the manager may change provider `id`, owned by `owner`. A provider the
    /// manager does not see is NOT_FOUND, so that another family learns nothing of it.
    pub fn check(&self, id: Uuid, owner: Option<Uuid>) -> ApiResult<()> {
        let Manager::Admin(family) = self else {
            return Ok(());
        };
        if !family.sees(owner) {
            return Err(ApiError::not_found("provider", id));
        }
        match owner {
            None => Err(ApiError::PermissionDenied(
                "the providers every account sees are changed by operators only; an admin \
                 registers its own OAuth app (CreateProvider with owner_account_id)"
                    .into(),
            )),
            Some(owner) if owner == family.account => Ok(()),
            Some(_) => Err(ApiError::PermissionDenied(
                "this OAuth app is changed by the admins of the account that registered it".into(),
            )),
        }
    }
}

/// A token parameter's name: a word of letters, digits and `_`, not starting with a digit,
/// as `{token.NAME}` names it in a request.
pub fn is_parameter_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_TOKEN_PARAMETER_NAME_CHARS
}

/// The fields named in `names` of a token endpoint's JSON answer: strings, and numbers as
/// text. A value of another type, longer than [`MAX_TOKEN_PARAMETER_VALUE_CHARS`] or with a
/// control character is dropped, as are names past [`MAX_TOKEN_PARAMETERS`].
pub fn pick_parameters(
    answer: &serde_json::Map<String, serde_json::Value>,
    names: &[String],
) -> BTreeMap<String, String> {
    names
        .iter()
        .take(MAX_TOKEN_PARAMETERS)
        .filter_map(|name| {
            let value = match answer.get(name)? {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Number(number) => number.to_string(),
                _ => return None,
            };
            let storable = value.chars().count() <= MAX_TOKEN_PARAMETER_VALUE_CHARS
                && !value.chars().any(char::is_control);
            storable.then(|| (name.clone(), value))
        })
        .collect()
}

/// A token's parameters after a refresh: the `answered` ones replace what `kept` had, and
/// a parameter the answer left out keeps its value, while the provider still names it.
pub fn refreshed_parameters(
    kept: &BTreeMap<String, String>,
    answered: &BTreeMap<String, String>,
    names: &[String],
) -> BTreeMap<String, String> {
    let mut merged: BTreeMap<String, String> = kept
        .iter()
        .filter(|(name, _)| names.contains(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    merged.extend(answered.iter().map(|(n, v)| (n.clone(), v.clone())));
    merged
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_family_sees_the_operators_its_own_and_its_partners_apps() {
        let (partner, client, stranger) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let of_client = Family {
            account: client,
            parent: Some(partner),
        };
        let of_partner = Family {
            account: partner,
            parent: None,
        };
        assert!(of_client.sees(None));
        assert!(of_client.sees(Some(partner)));
        assert!(of_client.sees(Some(client)));
        assert!(!of_client.sees(Some(stranger)));
        assert!(
            !of_partner.sees(Some(client)),
            "a client's own app is its own"
        );
    }

    #[test]
    fn only_the_owners_admins_change_an_app() {
        let (partner, client, id) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let client_admin = Manager::Admin(Family {
            account: client,
            parent: Some(partner),
        });
        let partner_admin = Manager::Admin(Family {
            account: partner,
            parent: None,
        });
        assert!(partner_admin.check(id, Some(partner)).is_ok());
        assert!(matches!(
            client_admin.check(id, Some(partner)),
            Err(ApiError::PermissionDenied(_))
        ));
        assert!(matches!(
            partner_admin.check(id, None),
            Err(ApiError::PermissionDenied(_))
        ));
        assert!(matches!(
            partner_admin.check(id, Some(Uuid::now_v7())),
            Err(ApiError::NotFound { .. })
        ));
        assert!(Manager::Operator.check(id, Some(client)).is_ok());
    }

    #[test]
    fn parameters_are_strings_and_numbers_within_bounds() {
        let answer = json!({
            "instance_url": "https://eu1.my.salesforce.com",
            "issued_at": 1_700_000_000_000_i64,
            "nested": {"a": 1},
            "flag": true,
            "long": "x".repeat(MAX_TOKEN_PARAMETER_VALUE_CHARS + 1),
            "broken": "a\r\nSet-Cookie: x",
        });
        let names: Vec<String> = [
            "instance_url",
            "issued_at",
            "nested",
            "flag",
            "long",
            "broken",
            "absent",
        ]
        .map(String::from)
        .to_vec();
        let picked = pick_parameters(answer.as_object().unwrap(), &names);
        assert_eq!(
            picked,
            BTreeMap::from([
                (
                    "instance_url".to_owned(),
                    "https://eu1.my.salesforce.com".to_owned()
                ),
                ("issued_at".to_owned(), "1700000000000".to_owned()),
            ])
        );
    }

    #[test]
    fn a_refresh_keeps_what_its_answer_left_out() {
        let kept = BTreeMap::from([
            ("instance_url".to_owned(), "https://a".to_owned()),
            ("id".to_owned(), "1".to_owned()),
            ("dropped".to_owned(), "x".to_owned()),
        ]);
        let answered = BTreeMap::from([("instance_url".to_owned(), "https://b".to_owned())]);
        let names = vec!["instance_url".to_owned(), "id".to_owned()];
        let merged = refreshed_parameters(&kept, &answered, &names);
        assert_eq!(merged["instance_url"], "https://b");
        assert_eq!(merged["id"], "1");
        assert!(!merged.contains_key("dropped"));
    }

    #[test]
    fn parameter_names_are_words() {
        assert!(is_parameter_name("instance_url"));
        assert!(is_parameter_name("_x1"));
        for bad in ["", "1st", "a-b", "a b", "a.b", "{x}"] {
            assert!(!is_parameter_name(bad), "{bad:?}");
        }
    }
}
