//! Tokens for tests, signed with the secret that [`crate::test_config`] gives services.

use std::time::Duration;

use trellis_platform::auth::{Role, TokenMinter};
use uuid::Uuid;

/// The JWT secret of services started by the test kit.
pub const TEST_SECRET: &str = "trellis-test-secret";

pub fn minter() -> TokenMinter {
    TokenMinter::hs256(TEST_SECRET.as_bytes())
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

pub fn service() -> String {
    minter().service_token("test")
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
    };
    encode(&claims, TEST_SECRET)
}

/// A well-formed token signed with another secret.
pub fn forged(account: Uuid) -> String {
    TokenMinter::hs256(b"not-the-secret").mint(
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
