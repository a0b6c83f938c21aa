//! Verification of tokens: what is accepted (HS256 and RS256, users and services) and what
//! is refused (expired, another algorithm, unsigned, another audience, malformed).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tonic::{Code, Status};

use super::*;

const SECRET: &[u8] = b"a-test-secret-that-is-long-enough-for-hs256";
const PRIVATE_PEM: &[u8] = include_bytes!("testdata/rsa_private.pem");
const PUBLIC_PEM: &[u8] = include_bytes!("testdata/rsa_public.pem");
/// A key that signed none of the tokens below.
const OTHER_PUBLIC_PEM: &[u8] = include_bytes!("testdata/rsa_other_public.pem");

const HOUR: Duration = Duration::from_secs(3600);

fn account() -> Uuid {
    Uuid::from_u128(0x5eed)
}

fn rs256_minter(identity: Identity) -> TokenMinter {
    TokenMinter::rs256_pem(PRIVATE_PEM, identity).expect("the test private key")
}

fn rs256_authenticator(pem: &[u8], audience: ServiceKind) -> Authenticator {
    Authenticator::rs256_pem(pem, audience).expect("the test public keys")
}

/// A user's claims, expiring `exp_from_now` seconds from now (negative: in the past).
fn user_claims(exp_from_now: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: "ana".into(),
        acct: account().to_string(),
        role: Role::Editor,
        exp: now + exp_from_now,
        iat: now,
        aud: Vec::new(),
    }
}

/// The message of a refusal, which must be UNAUTHENTICATED.
fn refusal(result: Result<Claims, Status>) -> String {
    let status = result.expect_err("the token is refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    status.message().to_owned()
}

/// A JWT with this header and these claims, signed with `signature` (already encoded).
fn handmade(header: serde_json::Value, claims: &serde_json::Value, signature: &str) -> String {
    let part = |json: &serde_json::Value| URL_SAFE_NO_PAD.encode(json.to_string());
    format!("{}.{}.{signature}", part(&header), part(claims))
}

#[test]
fn an_hs256_user_token_verifies_with_its_claims() {
    let minter = TokenMinter::hs256(SECRET, Identity::Operator);
    let token = minter.mint("ana", Some(account()), Role::Editor, HOUR);
    let claims = Authenticator::hs256(SECRET, ServiceKind::Library)
        .verify(&token)
        .expect("a valid HS256 token");
    assert_eq!(claims.sub, "ana");
    assert_eq!(claims.acct, account().to_string());
    assert_eq!(claims.role, Role::Editor);
    assert!(claims.aud.is_empty(), "a user's token names no audience");
    assert!(claims.exp > claims.iat);
}

#[test]
fn an_rs256_user_token_and_service_token_verify() {
    let authenticator = rs256_authenticator(PUBLIC_PEM, ServiceKind::Tokens);
    let user = rs256_minter(Identity::Operator).mint("ana", Some(account()), Role::Admin, HOUR);
    let claims = authenticator.verify(&user).expect("a valid RS256 token");
    assert_eq!((claims.sub.as_str(), claims.role), ("ana", Role::Admin));

    let service = rs256_minter(Identity::Imports).service_token(ServiceKind::Tokens);
    let claims = authenticator
        .verify(&service)
        .expect("a valid service token");
    assert_eq!(claims.sub, "imports");
    assert_eq!(claims.role, Role::Service);
    assert_eq!(claims.aud, ["tokens"]);
}

#[test]
fn an_rs256_token_verifies_with_any_of_several_public_keys() {
    let token = rs256_minter(Identity::Operator).mint("ana", Some(account()), Role::Viewer, HOUR);
    let bundle = [OTHER_PUBLIC_PEM, PUBLIC_PEM].concat();
    rs256_authenticator(&bundle, ServiceKind::Library)
        .verify(&token)
        .expect("the second key of the bundle signed it");
    let message =
        refusal(rs256_authenticator(OTHER_PUBLIC_PEM, ServiceKind::Library).verify(&token));
    assert_eq!(message, "invalid bearer token: bad signature");
    assert!(Authenticator::rs256_pem(b"not a key", ServiceKind::Library).is_err());
}

#[test]
fn an_expired_token_is_refused() {
    // Past the five seconds of leeway allowed for clock skew.
    let expired = encode_hs256(&user_claims(-60), SECRET);
    let message = refusal(Authenticator::hs256(SECRET, ServiceKind::Library).verify(&expired));
    assert_eq!(message, "invalid bearer token: expired");

    let expired = rs256_minter(Identity::Operator).sign(&user_claims(-60));
    let message = refusal(rs256_authenticator(PUBLIC_PEM, ServiceKind::Library).verify(&expired));
    assert_eq!(message, "invalid bearer token: expired");
}

#[test]
fn a_token_of_another_algorithm_is_refused() {
    let rs256 = rs256_authenticator(PUBLIC_PEM, ServiceKind::Library);
    let hs256 = Authenticator::hs256(SECRET, ServiceKind::Library);

    let hs256_token = encode_hs256(&user_claims(3600), SECRET);
    assert_eq!(
        refusal(rs256.verify(&hs256_token)),
        "invalid bearer token: wrong algorithm"
    );
    // The classic confusion: the public key, which anyone may read, as an HMAC secret.
    let forged = encode_hs256(&user_claims(3600), PUBLIC_PEM);
    assert_eq!(
        refusal(rs256.verify(&forged)),
        "invalid bearer token: wrong algorithm"
    );

    let rs256_token = rs256_minter(Identity::Operator).sign(&user_claims(3600));
    assert_eq!(
        refusal(hs256.verify(&rs256_token)),
        "invalid bearer token: wrong algorithm"
    );
}

#[test]
fn an_unsigned_token_is_refused() {
    let claims = serde_json::to_value(user_claims(3600)).expect("claims as JSON");
    for header in [
        serde_json::json!({"alg": "none", "typ": "JWT"}),
        serde_json::json!({"alg": "None"}),
    ] {
        let unsigned = handmade(header, &claims, "");
        for authenticator in [
            Authenticator::hs256(SECRET, ServiceKind::Library),
            rs256_authenticator(PUBLIC_PEM, ServiceKind::Library),
        ] {
            let message = refusal(authenticator.verify(&unsigned));
            assert!(message.starts_with("invalid bearer token: "), "{message}");
        }
    }
}

#[test]
fn a_service_token_for_another_audience_is_refused() {
    let minter = TokenMinter::hs256(SECRET, Identity::Refresh);
    let for_library = minter.service_token(ServiceKind::Library);
    Authenticator::hs256(SECRET, ServiceKind::Library)
        .verify(&for_library)
        .expect("the audience it was minted for");
    let message = refusal(Authenticator::hs256(SECRET, ServiceKind::Imports).verify(&for_library));
    assert_eq!(
        message,
        "invalid bearer token: a service token for another audience than imports"
    );

    // A user's token names no audience and is good for every service.
    let user = minter.mint("ana", Some(account()), Role::Viewer, HOUR);
    for audience in ServiceKind::ALL {
        Authenticator::hs256(SECRET, audience)
            .verify(&user)
            .expect("a user's token");
    }
}

#[test]
fn an_audience_may_be_one_string_or_a_list() {
    let now = chrono::Utc::now().timestamp();
    let header = jsonwebtoken::Header::default();
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET);
    let authenticator = Authenticator::hs256(SECRET, ServiceKind::Tokens);
    for aud in [
        serde_json::json!("tokens"),
        serde_json::json!(["library", "tokens"]),
    ] {
        let claims = serde_json::json!({
            "sub": "library", "role": "service", "exp": now + 60, "aud": aud,
        });
        let token = jsonwebtoken::encode(&header, &claims, &key).expect("signed");
        let verified = authenticator.verify(&token).expect("tokens is an audience");
        assert!(
            verified.aud.iter().any(|aud| aud == "tokens"),
            "{verified:?}"
        );
    }
}

#[test]
fn a_service_token_of_an_unknown_identity_is_refused() {
    let mut claims = user_claims(3600);
    claims.sub = "mallory".into();
    claims.role = Role::Service;
    claims.aud = vec!["library".into()];
    let token = encode_hs256(&claims, SECRET);
    let message = refusal(Authenticator::hs256(SECRET, ServiceKind::Library).verify(&token));
    assert_eq!(message, "invalid bearer token: unknown service identity");
}

#[test]
fn a_token_signed_with_another_secret_is_refused() {
    let token = encode_hs256(&user_claims(3600), b"another-secret-of-thirty-two-bytes!!");
    let message = refusal(Authenticator::hs256(SECRET, ServiceKind::Library).verify(&token));
    assert_eq!(message, "invalid bearer token: bad signature");
}

#[test]
fn a_malformed_bearer_is_refused() {
    assert_eq!(bearer_of("Bearer abc.def.ghi"), Some("abc.def.ghi"));
    assert_eq!(bearer_of("bearer  abc "), Some("abc"));
    for header in [
        "",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic YWxhZGRpbjpvcGVu",
        "abc",
    ] {
        assert_eq!(bearer_of(header), None, "{header:?}");
    }

    let authenticator = Authenticator::hs256(SECRET, ServiceKind::Library);
    for token in ["", "not-a-jwt", "a.b.c", "....", "e30.e30.e30"] {
        let message = refusal(authenticator.verify(token));
        assert!(
            message.starts_with("invalid bearer token: "),
            "{token}: {message}"
        );
    }
    let no_expiry = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": "ana", "role": "admin"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .expect("signed");
    // Refused before the required claims are checked: the claims do not deserialize.
    assert_eq!(
        refusal(authenticator.verify(&no_expiry)),
        "invalid bearer token: malformed claims"
    );
    let unknown_role = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": "ana", "role": "owner", "exp": i64::MAX / 2}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .expect("signed");
    assert_eq!(
        refusal(authenticator.verify(&unknown_role)),
        "invalid bearer token: malformed claims"
    );
}

#[test]
fn the_key_settings_choose_the_algorithm() {
    let none = JwtKeys::default();
    let token = TokenMinter::from_keys(&none, Identity::Operator)
        .expect("the development secret")
        .mint("ana", Some(account()), Role::Admin, HOUR);
    Authenticator::hs256(DEVELOPMENT_SECRET.as_bytes(), ServiceKind::Library)
        .verify(&token)
        .expect("signed with the development secret");

    let public_only = JwtKeys {
        jwt_public_key_file: Some("public.pem".into()),
        ..JwtKeys::default()
    };
    let error = TokenMinter::from_keys(&public_only, Identity::Operator)
        .err()
        .expect("no key to sign with");
    assert!(
        error.to_string().contains("TRELLIS_JWT_PRIVATE_KEY_FILE"),
        "{error}"
    );
}

#[test]
fn service_tokens_are_cached_per_audience() {
    let tokens = ServiceTokens::new(TokenMinter::hs256(SECRET, Identity::Library));
    let first = tokens.bearer(ServiceKind::Tokens);
    assert_eq!(tokens.bearer(ServiceKind::Tokens), first);
    let other = tokens.bearer(ServiceKind::Refresh);
    let claims = Authenticator::hs256(SECRET, ServiceKind::Refresh)
        .verify(&other)
        .expect("a token for refresh");
    assert_eq!(claims.aud, ["refresh"]);
    assert_eq!(tokens.identity(), Identity::Library);
}

#[test]
fn roles_decide_what_a_caller_may_do() {
    let caller = |role: Role, sub: &str| Caller {
        claims: Claims {
            sub: sub.into(),
            role,
            ..user_claims(3600)
        },
        bearer: String::new(),
    };
    let viewer = caller(Role::Viewer, "ana");
    assert!(viewer.require_writer().is_err());
    assert!(viewer.require_admin().is_err());
    assert!(viewer.require_service().is_err());
    assert_eq!(viewer.account().expect("signed in"), account());
    assert!(caller(Role::Editor, "ana").require_writer().is_ok());
    assert!(caller(Role::Editor, "ana").require_admin().is_err());
    let operator = caller(Role::Service, "operator");
    assert!(operator.is_operator());
    assert_eq!(operator.identity(), Some(Identity::Operator));
    assert!(operator.require_admin().is_ok() && operator.require_service().is_ok());
    assert_eq!(caller(Role::Admin, "operator").identity(), None);
}
