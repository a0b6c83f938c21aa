//! A request's fields read into typed values, once, at the top of a handler: ids, optional
//! ids, required messages and the account a request is about. What the handler passes on is
//! typed, so nothing below it checks again (or `expect`s what was "checked above").

use tonic::Request;
use uuid::Uuid;

use crate::auth::{self, Caller};
use crate::error::{ApiError, ApiResult};

/// A required UUID field.
pub fn id(field: &str, text: &str) -> ApiResult<Uuid> {
    if text.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    Uuid::parse_str(text).map_err(|_| ApiError::invalid(field, "must be a UUID"))
}

/// An optional UUID field: empty is none, anything else must be a UUID.
pub fn optional_id(field: &str, text: &str) -> ApiResult<Option<Uuid>> {
    match text {
        "" => Ok(None),
        text => id(field, text).map(Some),
    }
}

/// A required message field.
pub fn required<T>(field: &str, value: Option<T>) -> ApiResult<T> {
    value.ok_or_else(|| ApiError::invalid(field, "required"))
}

/// The caller the gate verified for this request; UNAUTHENTICATED when there is none.
pub fn caller<T>(request: &Request<T>) -> ApiResult<Caller> {
    auth::caller(request).map_err(|status| ApiError::Unauthenticated(status.message().to_owned()))
}

/// The account a request is about. Empty means the caller's signed-in account; a member
/// may name only that one; a service token is signed into none and must name one.
///
/// Services that let a caller act in other accounts (a partner admin in its clients, I2)
/// decide that in their own access policy, after this.
pub fn account_of(caller: &Caller, field: &str, requested: &str) -> ApiResult<Uuid> {
    if caller.is_service() {
        if requested.is_empty() {
            return Err(ApiError::invalid(
                field,
                "required with a service token (it is signed into no account)",
            ));
        }
        return id(field, requested);
    }
    let own = caller.account()?;
    match optional_id(field, requested)? {
        None => Ok(own),
        Some(requested) if requested == own => Ok(own),
        Some(_) => Err(ApiError::PermissionDenied(
            "the caller is not signed into that account".into(),
        )),
    }
}

/// The caller may act on resources of `account`: a service, or a member signed into it.
pub fn require_account(caller: &Caller, account: Uuid) -> ApiResult<()> {
    if caller.is_service() || caller.account()? == account {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(
            "the resource belongs to another account".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Claims, Role};

    fn member(account: Uuid) -> Caller {
        Caller {
            claims: Claims {
                sub: "ada".into(),
                acct: account.to_string(),
                role: Role::Editor,
                exp: 0,
                iat: 0,
                aud: Vec::new(),
            },
            bearer: String::new(),
        }
    }

    fn service() -> Caller {
        Caller {
            claims: Claims {
                sub: "imports".into(),
                acct: String::new(),
                role: Role::Service,
                exp: 0,
                iat: 0,
                aud: Vec::new(),
            },
            bearer: String::new(),
        }
    }

    #[test]
    fn ids_are_required_and_must_be_uuids() {
        assert_eq!(
            id("id", "").unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            id("id", "42").unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        let uuid = Uuid::new_v4();
        assert_eq!(id("id", &uuid.to_string()).unwrap(), uuid);
        assert_eq!(optional_id("id", "").unwrap(), None);
        assert!(optional_id("id", "x").is_err());
        assert_eq!(required("m", Some(1)).unwrap(), 1);
        assert!(required::<i32>("m", None).is_err());
    }

    #[test]
    fn a_member_names_only_its_own_account_and_a_service_must_name_one() {
        let own = Uuid::new_v4();
        let other = Uuid::new_v4();
        let ada = member(own);
        assert_eq!(account_of(&ada, "account_id", "").unwrap(), own);
        assert_eq!(
            account_of(&ada, "account_id", &own.to_string()).unwrap(),
            own
        );
        let refused = account_of(&ada, "account_id", &other.to_string()).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert!(require_account(&ada, other).is_err());
        assert!(require_account(&ada, own).is_ok());

        let imports = service();
        let missing = account_of(&imports, "account_id", "").unwrap_err();
        assert_eq!(missing.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            account_of(&imports, "account_id", &other.to_string()).unwrap(),
            other
        );
        assert!(require_account(&imports, other).is_ok());
    }
}
