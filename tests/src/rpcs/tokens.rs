//! The token registry's RPCs: providers, the authorization flow, tokens, grants, access,
//! usage and limits, credentials.

use trellis_platform::auth::Identity::{Imports, Library, Operator, Refresh};

use super::Users::{Admin, Nobody, Read, Write};
use super::{Row, T, own, row};

/// Every RPC of the service but its deletions.
pub const ROWS: &[Row] = &[
    row(
        T,
        "CreateProvider",
        Nobody,
        &[Operator],
        r#"{"provider": {"name": "Another", "authorization_url": "http://127.0.0.1:9/authorize", "token_url": "http://127.0.0.1:9/token", "client_id": "c", "client_secret": "s", "scopes": ["read"]}}"#,
    ),
    own(row(
        T,
        "GetProvider",
        Read,
        &[Operator],
        r#"{"id": "{PROVIDER}"}"#,
    )),
    own(row(T, "ListProviders", Read, &[Operator], r#"{}"#)),
    row(
        T,
        "UpdateProvider",
        Nobody,
        &[Operator],
        r#"{"provider": {"id": "{PROVIDER}", "name": "Renamed"}, "update_mask": "name"}"#,
    ),
    row(
        T,
        "BeginAuthorization",
        Write,
        &[],
        r#"{"account_id": "{A}", "provider_id": "{PROVIDER}", "redirect_uri": "http://127.0.0.1:9/callback"}"#,
    ),
    // The pending authorization its state names is the caller's or nothing.
    own(row(
        T,
        "CompleteAuthorization",
        Write,
        &[],
        r#"{"state": "{RANDOM}", "code": "x"}"#,
    )),
    row(
        T,
        "ListTokens",
        Read,
        &[Operator],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        T,
        "GetToken",
        Read,
        &[Operator, Imports],
        r#"{"id": "{RANDOM}", "account_id": "{A}"}"#,
    ),
    row(
        T,
        "UpdateToken",
        Write,
        &[Operator],
        r#"{"token": {"id": "{RANDOM}", "account_id": "{A}", "display_name": "Renamed"}, "update_mask": "displayName"}"#,
    ),
    row(
        T,
        "CreateTokenGrant",
        Nobody,
        &[Imports],
        r#"{"request_id": "matrix-grant", "grant": {"token_id": "{RANDOM}", "grantee_account_id": "{B}", "data_source_id": "{DS}"}, "source_account_id": "{A}"}"#,
    ),
    row(
        T,
        "GetTokenGrant",
        Read,
        &[Operator, Imports],
        r#"{"id": "{RANDOM}"}"#,
    ),
    row(
        T,
        "ListTokenGrants",
        Read,
        &[Operator, Imports],
        r#"{"token_id": "{RANDOM}"}"#,
    ),
    row(
        T,
        "GetAccessToken",
        Nobody,
        &[Refresh],
        r#"{"token_id": "{RANDOM}", "account_id": "{A}", "data_source_id": "{DS}"}"#,
    ),
    row(
        T,
        "GetTokenUsage",
        Read,
        &[Operator],
        r#"{"token_id": "{RANDOM}"}"#,
    ),
    row(
        T,
        "GetTokenLimits",
        Nobody,
        &[Refresh],
        r#"{"token_id": "{RANDOM}"}"#,
    ),
    row(
        T,
        "CreateCredential",
        Write,
        &[Operator],
        r#"{"credential": {"account_id": "{A}", "display_name": "c", "kind": "CREDENTIAL_KIND_BASIC", "username": "u"}, "secret": {"password": "p"}}"#,
    ),
    row(
        T,
        "GetCredential",
        Read,
        &[Operator],
        r#"{"id": "{CREDENTIAL}", "account_id": "{A}"}"#,
    ),
    row(
        T,
        "ListCredentials",
        Read,
        &[Operator, Imports],
        r#"{"account_id": "{A}"}"#,
    ),
    row(
        T,
        "UpdateCredential",
        Write,
        &[Operator],
        r#"{"credential": {"id": "{CREDENTIAL}", "account_id": "{A}", "display_name": "Renamed"}, "update_mask": "displayName"}"#,
    ),
    row(
        T,
        "CopyCredential",
        Nobody,
        &[Imports],
        r#"{"request_id": "matrix-copy", "credential_id": "{CREDENTIAL}", "destination_account_id": "{B}", "data_source_id": "{DS}", "source_account_id": "{A}"}"#,
    ),
    row(
        T,
        "GetCredentialSecret",
        Nobody,
        &[Refresh],
        r#"{"credential_id": "{CREDENTIAL}", "data_source_id": "{DS}", "account_id": "{A}"}"#,
    ),
    row(
        T,
        "CheckDataSourceAuth",
        Nobody,
        &[Library],
        r#"{"account_id": "{A}", "data_source_id": "{DS}", "credential_id": "{CREDENTIAL}"}"#,
    ),
];

/// Its deletions, which run after every other row.
pub const DELETIONS: &[Row] = &[
    row(
        T,
        "DeleteTokenGrant",
        Admin,
        &[Operator, Imports],
        r#"{"id": "{RANDOM}"}"#,
    ),
    row(
        T,
        "DeleteToken",
        Write,
        &[Operator],
        r#"{"id": "{RANDOM}", "account_id": "{A}"}"#,
    ),
    row(
        T,
        "DeleteCredential",
        Write,
        &[Operator, Imports],
        r#"{"id": "{CREDENTIAL2}", "account_id": "{A}"}"#,
    ),
    row(
        T,
        "DeleteProvider",
        Nobody,
        &[Operator],
        r#"{"id": "{PROVIDER2}"}"#,
    ),
];
