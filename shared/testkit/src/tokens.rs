//! Tokens for tests, signed with the secret that [`crate::test_config`] gives services.
//!
//! The users `admin@test`, `editor@test` and `viewer@test` are members of an account only
//! once [`crate::members::enroll`] made them so; an operator's token ([`service`]) and the
//! services' own identities ([`service_as`]) need no membership.

use std::time::Duration;

use trellis_platform::auth::{Identity, Role, TokenMinter};
use trellis_platform::config::ServiceKind;
use uuid::Uuid;

/// The JWT secret of services started by the test kit.
pub const TEST_SECRET: &str = "trellis-test-secret";

/// The users [`admin`], [`editor`] and [`viewer`] speak for, with their roles.
pub const TEST_USERS: [(&str, Role); 3] = [
    ("admin@test", Role::Admin),
    ("editor@test", Role::Editor),
    ("viewer@test", Role::Viewer),
];

pub fn minter() -> TokenMinter {
    TokenMinter::hs256(TEST_SECRET.as_bytes(), Identity::Operator)
}

/// A token of `user` signed into `account` with `role`, valid for an hour.
pub fn user_token(account: Uuid, user: &str, role: Role) -> String {
    minter().mint(user, Some(account), role, Duration::from_secs(3600))
}

pub fn admin(account: Uuid) -> String {
    user_token(account, "admin@test", Role::Admin)
}

pub fn editor(account: Uuid) -> String {
    user_token(account, "editor@test", Role::Editor)
}

pub fn viewer(account: Uuid) -> String {
    user_token(account, "viewer@test", Role::Viewer)
}

/// An operator's token, valid for every service.
pub fn service() -> String {
    service_as(Identity::Operator)
}

/// A token of one of Trellis's identities, valid for every service.
pub fn service_as(identity: Identity) -> String {
    TokenMinter::hs256(TEST_SECRET.as_bytes(), identity)
        .service_token_for(&ServiceKind::ALL, Duration::from_secs(3600))
}

/// A token that expired an hour ago.
pub fn expired(account: Uuid) -> String {
    use trellis_platform::auth::Claims;
    let now = chrono_now();
    let claims = Claims {
        sub: "late@test".into(),
        acct: account.to_string(),
        role: Role::Admin,
        exp: now - 3600,
        iat: now - 7200,
        aud: Vec::new(),
    };
    encode(&claims, TEST_SECRET)
}

/// A well-formed token signed with another secret.
pub fn forged(account: Uuid) -> String {
    TokenMinter::hs256(b"not-the-secret", Identity::Operator).mint(
        "mallory@test",
        Some(account),
        Role::Admin,
        Duration::from_secs(3600),
    )
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn encode(claims: &trellis_platform::auth::Claims, secret: &str) -> String {
    trellis_platform::auth::encode_hs256(claims, secret.as_bytes())
}
