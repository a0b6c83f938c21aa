//! Data sources: validation of the templated request, versions and fingerprints (I10),
//! the tokens and credentials they may name (I14, I15), resolution per account and user
//! (I13), "who uses this token" (T3), deletes.

mod common;

use std::collections::HashMap;

use common::{
    auth_credential, auth_token, failure, json_source, klip_of, mask, start, start_with_tokens,
    violations, with,
};
use tonic::Code;
use tonic_types::StatusExt;
use trellis_platform::auth::{Identity, Role};
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

fn create(source: pb::DataSource) -> pb::CreateDataSourceRequest {
    pb::CreateDataSourceRequest {
        request_id: String::new(),
        data_source: Some(source),
    }
}

fn update(source: pb::DataSource, paths: &[&str]) -> pb::UpdateDataSourceRequest {
    pb::UpdateDataSourceRequest {
        request_id: String::new(),
        data_source: Some(source),
        update_mask: mask(paths),
    }
}

/// What an import does first (CloneAssets): copies the data source `id` of `source` into
/// `destination`, naming what the master names. Returns the instance's id.
async fn import(library: &common::Library, source: Uuid, destination: Uuid, id: &str) -> String {
    library
        .client()
        .clone_assets(with(
            &tokens::service_as(Identity::Imports),
            pb::CloneAssetsRequest {
                request_id: format!("import-{destination}-{id}"),
                source_account_id: source.to_string(),
                destination_account_id: destination.to_string(),
                assets: vec![pb::AssetRef {
                    kind: pb::AssetKind::DataSource as i32,
                    id: id.to_owned(),
                }],
                reuse_ids: HashMap::new(),
            },
        ))
        .await
        .expect("CloneAssets")
        .into_inner()
        .mappings
        .into_iter()
        .find(|m| m.source_id == id)
        .expect("a mapping")
        .destination_id
}

/// The precondition types of a FAILED_PRECONDITION.
fn preconditions<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
) -> Vec<String> {
    failure(result, Code::FailedPrecondition)
        .get_details_precondition_failure()
        .expect("FAILED_PRECONDITION carries a PreconditionFailure")
        .violations
        .into_iter()
        .map(|v| v.r#type)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_source_is_created_read_updated_and_versioned() {
    let library = start_with_tokens().await;
    let mut client = library.client();
    let account = library.standard().await;
    let editor = tokens::editor(account);
    let token_id = library.oauth_token(account).await;
    let credentials = [
        library.credential(account).await,
        library.credential(account).await,
    ];

    let mut source = json_source(
        None,
        "Sales",
        "https://api.example.com/sales?c={props.companyID}",
    );
    let request = source.request.as_mut().unwrap();
    request.method = pb::HttpMethod::Post as i32;
    request.body = r#"{"filter": {"year": "{props.year}"}, "raw": "{not.a.template}"}"#.into();
    request.headers.push(pb::HttpHeader {
        name: "X-Region".into(),
        value: "{props.region}".into(),
    });
    source.auth = auth_token(token_id);
    source.refresh_interval = Some(prost_types::Duration {
        seconds: 3600,
        nanos: 0,
    });
    source.rate_limit_key = "ga:{props.profile}".into();

    let created = library.data_source(&editor, source.clone()).await;
    assert_eq!(created.version, 1);
    assert_eq!(created.fingerprint.len(), 64);
    assert_eq!(
        created.template_properties,
        ["companyID", "profile", "region", "year"]
    );
    let auth = created.auth.clone().unwrap();
    assert_eq!(auth.kind, pb::AuthKind::OauthToken as i32);
    assert_eq!(
        created.request.as_ref().unwrap().body,
        source.request.unwrap().body
    );
    assert_eq!(created.account_id, account.to_string());

    let got = client
        .get_data_source(with(
            &tokens::viewer(account),
            pb::GetDataSourceRequest {
                id: created.id.clone(),
                account_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert_eq!(got, created);

    // A rename is a change of the definition: the version grows, the fingerprint stays.
    let renamed = client
        .update_data_source(with(
            &editor,
            update(
                pb::DataSource {
                    id: created.id.clone(),
                    name: "Sales (EU)".into(),
                    etag: created.etag.clone(),
                    ..Default::default()
                },
                &["name"],
            ),
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert_eq!(
        (renamed.version, &renamed.fingerprint),
        (2, &created.fingerprint)
    );
    assert_eq!(
        renamed.rate_limit_key, created.rate_limit_key,
        "outside the mask"
    );

    // A new URL changes what is fetched: version and fingerprint change.
    let moved = client
        .update_data_source(with(
            &editor,
            update(
                pb::DataSource {
                    id: created.id.clone(),
                    request: Some(pb::HttpRequestTemplate {
                        url: "https://api.example.com/v2/sales".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &["request.url"],
            ),
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert_eq!(moved.version, 3);
    assert_ne!(moved.fingerprint, renamed.fingerprint);
    assert_eq!(
        moved.request.as_ref().unwrap().method,
        pb::HttpMethod::Post as i32
    );

    // Pointing at another credential of the account (as an import does with its copy, I5)
    // is a new version with the same fingerprint... once the source uses a credential.
    let with_credential = client
        .update_data_source(with(
            &editor,
            update(
                pb::DataSource {
                    id: created.id.clone(),
                    auth: auth_credential(credentials[0]),
                    ..Default::default()
                },
                &["auth"],
            ),
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    let copied = client
        .update_data_source(with(
            &tokens::service(),
            update(
                pb::DataSource {
                    id: created.id.clone(),
                    account_id: account.to_string(),
                    auth: auth_credential(credentials[1]),
                    ..Default::default()
                },
                &["auth"],
            ),
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert_eq!(copied.version, with_credential.version + 1);
    assert_eq!(copied.fingerprint, with_credential.fingerprint);

    // Saving the same definition again changes nothing.
    let same = client
        .update_data_source(with(
            &editor,
            update(
                pb::DataSource {
                    id: created.id.clone(),
                    name: copied.name.clone(),
                    ..Default::default()
                },
                &["name"],
            ),
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert_eq!((same.version, &same.etag), (copied.version, &copied.etag));

    // Stale etags abort; unknown mask paths are invalid.
    failure(
        client
            .update_data_source(with(
                &editor,
                update(
                    pb::DataSource {
                        id: created.id.clone(),
                        name: "x".into(),
                        etag: created.etag.clone(),
                        ..Default::default()
                    },
                    &["name"],
                ),
            ))
            .await,
        Code::Aborted,
    );
    let bad_mask = client
        .update_data_source(with(
            &editor,
            update(
                pb::DataSource {
                    id: created.id.clone(),
                    ..Default::default()
                },
                &["version"],
            ),
        ))
        .await;
    assert_eq!(violations(bad_mask)[0].0, "update_mask");
}

/// A name, a change that breaks a sound data source, the field named and a phrase of the
/// description.
type Case = (
    &'static str,
    Box<dyn Fn(&mut pb::DataSource)>,
    &'static str,
    &'static str,
);

#[tokio::test(flavor = "multi_thread")]
async fn bad_definitions_are_invalid_arguments_naming_each_field() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let editor = tokens::editor(account);

    let cases: Vec<Case> = vec![
        (
            "unterminated template",
            Box::new(|s| s.request.as_mut().unwrap().url = "https://x/{props.companyID".into()),
            "data_source.request.url",
            "at character 11: unterminated",
        ),
        (
            "bad property name",
            Box::new(|s| s.request.as_mut().unwrap().url = "https://x/{props.company-id}".into()),
            "data_source.request.url",
            "bad property name",
        ),
        (
            "not http",
            Box::new(|s| s.request.as_mut().unwrap().url = "file:///etc/passwd".into()),
            "data_source.request.url",
            "http or https",
        ),
        (
            "relative",
            Box::new(|s| s.request.as_mut().unwrap().url = "/v1/sales".into()),
            "data_source.request.url",
            "absolute",
        ),
        (
            "templated scheme",
            Box::new(|s| s.request.as_mut().unwrap().url = "{props.scheme}://x/".into()),
            "data_source.request.url",
            "http or https",
        ),
        (
            "long url",
            Box::new(|s| {
                s.request.as_mut().unwrap().url = format!("https://x/{}", "a".repeat(2048))
            }),
            "data_source.request.url",
            "2048",
        ),
        (
            "oversized body",
            Box::new(|s| {
                let r = s.request.as_mut().unwrap();
                r.method = pb::HttpMethod::Post as i32;
                r.body = "x".repeat(64 * 1024 + 1);
            }),
            "data_source.request.body",
            "65536",
        ),
        (
            "body template",
            Box::new(|s| {
                let r = s.request.as_mut().unwrap();
                r.method = pb::HttpMethod::Put as i32;
                r.body = r#"{"a": "{props.a"}"#.into();
            }),
            "data_source.request.body",
            "bad property name",
        ),
        (
            "header name",
            Box::new(|s| {
                s.request.as_mut().unwrap().headers.push(pb::HttpHeader {
                    name: "Bad Header".into(),
                    value: "v".into(),
                })
            }),
            "data_source.request.headers[0].name",
            "header name",
        ),
        (
            "auth header",
            Box::new(|s| {
                s.request.as_mut().unwrap().headers.push(pb::HttpHeader {
                    name: "Authorization".into(),
                    value: "Bearer x".into(),
                })
            }),
            "data_source.request.headers[0].name",
            "auth",
        ),
        (
            "too many headers",
            Box::new(|s| {
                s.request.as_mut().unwrap().headers = vec![
                    pb::HttpHeader {
                        name: "X".into(),
                        value: "v".into()
                    };
                    51
                ]
            }),
            "data_source.request.headers",
            "50",
        ),
        (
            "method",
            Box::new(|s| s.request.as_mut().unwrap().method = 42),
            "data_source.request.method",
            "method",
        ),
        (
            "format",
            Box::new(|s| s.format = 0),
            "data_source.format",
            "required",
        ),
        (
            "credential id",
            Box::new(|s| {
                s.auth = Some(pb::DataSourceAuth {
                    kind: 0,
                    method: Some(pb::data_source_auth::Method::CredentialId("cred-1".into())),
                })
            }),
            "data_source.auth.credential_id",
            "UUID",
        ),
        (
            "token id",
            Box::new(|s| {
                s.auth = Some(pb::DataSourceAuth {
                    kind: 0,
                    method: Some(pb::data_source_auth::Method::TokenId("".into())),
                })
            }),
            "data_source.auth.token_id",
            "UUID",
        ),
        (
            "short interval",
            Box::new(|s| {
                s.refresh_interval = Some(prost_types::Duration {
                    seconds: 30,
                    nanos: 0,
                })
            }),
            "data_source.refresh_interval",
            "1 minute",
        ),
        (
            "long interval",
            Box::new(|s| {
                s.refresh_interval = Some(prost_types::Duration {
                    seconds: 8 * 86400,
                    nanos: 0,
                })
            }),
            "data_source.refresh_interval",
            "7 days",
        ),
        (
            "rate-limit key",
            Box::new(|s| s.rate_limit_key = "k".repeat(201)),
            "data_source.rate_limit_key",
            "200",
        ),
        (
            "name",
            Box::new(|s| s.name = String::new()),
            "data_source.name",
            "required",
        ),
    ];
    for (case, change, field, description) in cases {
        let mut source = json_source(None, "Sales", "https://api.example.com/v1");
        change(&mut source);
        let found = violations(
            client
                .create_data_source(with(&editor, create(source)))
                .await,
        );
        assert_eq!(found.len(), 1, "{case}: {found:?}");
        assert_eq!(found[0].0, field, "{case}");
        assert!(found[0].1.contains(description), "{case}: {}", found[0].1);
    }
    assert_eq!(
        library.count("data_sources", "account_id", account).await,
        0
    );

    // An update is validated the same way, and changes nothing when invalid.
    let created = library
        .data_source(
            &editor,
            json_source(None, "Sales", "https://api.example.com/v1"),
        )
        .await;
    let broken = client
        .update_data_source(with(
            &editor,
            update(
                pb::DataSource {
                    id: created.id.clone(),
                    request: Some(pb::HttpRequestTemplate {
                        url: "https://x/{props.".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &["request.url"],
            ),
        ))
        .await;
    assert_eq!(violations(broken)[0].0, "data_source.request.url");
    let unchanged = client
        .get_data_source(with(
            &editor,
            pb::GetDataSourceRequest {
                id: created.id,
                account_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert_eq!(unchanged.version, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dynamic_data_source_resolves_per_account_and_user() {
    let library = start().await;
    let mut client = library.client();
    let family = library.family().await;
    let service = tokens::service();

    // The partner lets users pick a company (a variable set by a user input); each client
    // has its own company property (I13).
    let master = library
        .data_source(
            &tokens::editor(family.partner),
            json_source(
                None,
                "Sales",
                "https://api.example.com/sales?company={props.companyID}&q={props.query}",
            ),
        )
        .await;
    client
        .create_variable(with(
            &tokens::admin(family.partner),
            pb::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(pb::Variable {
                    name: "companyID".into(),
                    default_value: "all".into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap();
    // Pat, a viewer of the partner, picks a company there (the partner has no company
    // property of that name, so a user value decides).
    library.member(family.partner, "pat", Role::Viewer).await;
    let picker = tokens::user_token(family.partner, "pat", Role::Viewer);
    client
        .set_user_variable_value(with(
            &picker,
            pb::SetUserVariableValueRequest {
                name: "companyID".into(),
                value: "a b&c".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let resolve = |token: String, account: String, user: &str, id: String| {
        let mut client = library.client();
        let request = pb::ResolveDataSourceRequest {
            data_source_id: id,
            account_id: account,
            user_id: user.into(),
        };
        async move {
            client
                .resolve_data_source(with(&token, request))
                .await
                .map(|r| r.into_inner().resolved_request.unwrap())
        }
    };

    let for_pat = resolve(picker.clone(), String::new(), "", master.id.clone())
        .await
        .unwrap();
    assert_eq!(
        for_pat.url,
        "https://api.example.com/sales?company=a%20b%26c&q={props.query}"
    );
    assert_eq!(for_pat.unresolved_properties, ["query"]);
    assert_eq!(
        for_pat.properties[0].source,
        pb::PropertySource::UserValue as i32
    );
    assert_eq!(for_pat.data_source_version, 1);
    let for_nobody = resolve(
        service.clone(),
        family.partner.to_string(),
        "",
        master.id.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        for_nobody.url,
        "https://api.example.com/sales?company=all&q={props.query}"
    );
    assert_ne!(for_pat.instance_key, for_nobody.instance_key);

    // The same definition in each client resolves with the client's own property.
    let mut keys = vec![];
    for (client_account, company) in [(family.client_a, "1001"), (family.client_b, "1002")] {
        let copy = library
            .data_source(
                &tokens::editor(client_account),
                json_source(
                    None,
                    "Sales",
                    "https://api.example.com/sales?company={props.companyID}&q={props.query}",
                ),
            )
            .await;
        for (name, value) in [("companyID", company), ("query", "x")] {
            client
                .set_company_property(with(
                    &tokens::admin(client_account),
                    pb::SetCompanyPropertyRequest {
                        request_id: String::new(),
                        property: Some(pb::CompanyProperty {
                            name: name.into(),
                            value: value.into(),
                            ..Default::default()
                        }),
                    },
                ))
                .await
                .unwrap();
        }
        let resolved = resolve(service.clone(), client_account.to_string(), "", copy.id)
            .await
            .unwrap();
        assert_eq!(
            resolved.url,
            format!("https://api.example.com/sales?company={company}&q=x")
        );
        assert!(resolved.unresolved_properties.is_empty());
        assert_eq!(resolved.method, pb::HttpMethod::Get as i32);
        keys.push(resolved.instance_key);
    }
    assert_ne!(keys[0], keys[1]);

    // A client cannot resolve the partner's data source.
    let denied = resolve(
        tokens::admin(family.client_a),
        family.partner.to_string(),
        "",
        master.id.clone(),
    )
    .await;
    assert_eq!(denied.unwrap_err().code(), Code::PermissionDenied);
    // Nor resolve for another user.
    let other_user = resolve(
        tokens::admin(family.partner),
        String::new(),
        "pat",
        master.id,
    )
    .await;
    assert_eq!(other_user.unwrap_err().code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_finds_every_data_source_using_a_token_across_accounts() {
    let library = start_with_tokens().await;
    let mut client = library.client();
    let family = library.family().await;
    let stranger = library.standard().await;

    // The partner's token: its own data source uses it, and so do the instances an import
    // made of that data source in both clients, each through a grant (I6).
    let token_id = library.oauth_token(family.partner).await;
    let mut master = json_source(None, "GA", "https://analytics.example.com/");
    master.auth = auth_token(token_id);
    let master = library
        .data_source(&tokens::editor(family.partner), master)
        .await;
    let mut expected = vec![master.id.clone()];
    for client_account in [family.client_a, family.client_b] {
        let instance = import(&library, family.partner, client_account, &master.id).await;
        library
            .grant(
                token_id,
                family.partner,
                client_account,
                &instance,
                &master.fingerprint,
            )
            .await;
        expected.push(instance);
    }
    // The stranger's data source uses a token of its own: not one of the partner's users.
    let stranger_token = library.oauth_token(stranger).await;
    let mut theirs = json_source(None, "GA", "https://analytics.example.com/");
    theirs.auth = auth_token(stranger_token);
    library.data_source(&tokens::editor(stranger), theirs).await;
    let credential_id = library.credential(family.client_b).await;
    let mut by_credential = json_source(None, "Basic", "https://basic.example.com/");
    by_credential.auth = auth_credential(credential_id);
    let credential_user = library
        .data_source(&tokens::editor(family.client_b), by_credential)
        .await;
    library
        .data_source(
            &tokens::editor(family.client_b),
            json_source(None, "Open", "https://open.example.com/"),
        )
        .await;

    // Paged, across every account (T3).
    let mut found = vec![];
    let mut page_token = String::new();
    loop {
        let page = client
            .list_data_sources(with(
                &tokens::service(),
                pb::ListDataSourcesRequest {
                    token_id: token_id.to_string(),
                    page_size: 2,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        found.extend(page.data_sources.into_iter().map(|d| d.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(found, expected);
    let credential_users = client
        .list_data_sources(with(
            &tokens::service(),
            pb::ListDataSourcesRequest {
                credential_id: credential_id.to_string(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(credential_users.data_sources.len(), 1);
    assert_eq!(credential_users.data_sources[0].id, credential_user.id);

    // A member's filter stays inside its account.
    let own = client
        .list_data_sources(with(
            &tokens::viewer(family.client_a),
            pb::ListDataSourcesRequest {
                token_id: token_id.to_string(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.data_sources.len(), 1);
    assert_eq!(own.data_sources[0].id, expected[1]);
    // A service without account or filter is told what is missing.
    let unscoped = client
        .list_data_sources(with(
            &tokens::service(),
            pb::ListDataSourcesRequest::default(),
        ))
        .await;
    assert_eq!(violations(unscoped)[0].0, "account_id");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_source_names_only_a_token_or_credential_its_account_holds_for_it() {
    let library = start_with_tokens().await;
    let mut client = library.client();
    let family = library.family().await;
    let stranger = library.standard().await;
    let editor = tokens::editor(family.client_a);
    let imports = tokens::service_as(Identity::Imports);
    let stranger_token = library.oauth_token(stranger).await;
    let stranger_credential = library.credential(stranger).await;
    let partner_token = library.oauth_token(family.partner).await;
    let partner_credential = library.credential(family.partner).await;

    // I15: unknown ids, another family's, and even the partner's own (no grant or copy of
    // them for this data source) are refused, naming the field.
    for (auth, field) in [
        (auth_token(Uuid::now_v7()), "data_source.auth.token_id"),
        (auth_token(stranger_token), "data_source.auth.token_id"),
        (auth_token(partner_token), "data_source.auth.token_id"),
        (
            auth_credential(Uuid::now_v7()),
            "data_source.auth.credential_id",
        ),
        (
            auth_credential(stranger_credential),
            "data_source.auth.credential_id",
        ),
        (
            auth_credential(partner_credential),
            "data_source.auth.credential_id",
        ),
    ] {
        let mut source = json_source(None, "Borrowed", "https://api.example.com/v1");
        source.auth = auth.clone();
        let found = violations(
            client
                .create_data_source(with(&editor, create(source)))
                .await,
        );
        assert_eq!(found.len(), 1, "{auth:?}: {found:?}");
        assert_eq!(found[0].0, field, "{auth:?}");
    }
    assert_eq!(
        library
            .count("data_sources", "account_id", family.client_a)
            .await,
        0
    );

    // Nor does an update switch to one: the data source stays as it was.
    let own = library
        .data_source(
            &editor,
            json_source(None, "Own", "https://api.example.com/own"),
        )
        .await;
    let switched = violations(
        client
            .update_data_source(with(
                &editor,
                update(
                    pb::DataSource {
                        id: own.id.clone(),
                        auth: auth_token(stranger_token),
                        ..Default::default()
                    },
                    &["auth"],
                ),
            ))
            .await,
    );
    assert_eq!(switched[0].0, "data_source.auth.token_id");
    let unchanged = client
        .get_data_source(with(
            &editor,
            pb::GetDataSourceRequest {
                id: own.id.clone(),
                account_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert_eq!(unchanged, own);

    // An import of the partner's data source: the instance uses a copy of the partner's
    // credential scoped to it (I5), which serves no other data source of the client.
    let mut master = json_source(
        None,
        "Feed",
        "https://api.example.com/feed?c={props.companyID}",
    );
    master.auth = auth_credential(partner_credential);
    let master = library
        .data_source(&tokens::editor(family.partner), master)
        .await;
    let instance = import(&library, family.partner, family.client_a, &master.id).await;
    let copy = library
        .copy_credential(
            partner_credential,
            family.partner,
            family.client_a,
            &instance,
            &master.fingerprint,
        )
        .await;
    let repointed = client
        .update_data_source(with(
            &imports,
            update(
                pb::DataSource {
                    id: instance.clone(),
                    account_id: family.client_a.to_string(),
                    auth: auth_credential(copy),
                    ..Default::default()
                },
                &["auth"],
            ),
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    let mut elsewhere = json_source(None, "Elsewhere", "https://api.example.com/feed");
    elsewhere.auth = auth_credential(copy);
    assert_eq!(
        violations(
            client
                .create_data_source(with(&editor, create(elsewhere)))
                .await
        )[0]
        .0,
        "data_source.auth.credential_id"
    );

    // I14: while it borrows, a rename is fine, but what it fetches stays as imported...
    let renamed = client
        .update_data_source(with(
            &editor,
            update(
                pb::DataSource {
                    id: instance.clone(),
                    name: "Feed (ours)".into(),
                    ..Default::default()
                },
                &["name"],
            ),
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert_eq!(renamed.version, repointed.version + 1);
    let elsewhere_url = || {
        Some(pb::HttpRequestTemplate {
            url: "https://attacker.example.com/collect".into(),
            ..Default::default()
        })
    };
    assert_eq!(
        preconditions(
            client
                .update_data_source(with(
                    &editor,
                    update(
                        pb::DataSource {
                            id: instance.clone(),
                            request: elsewhere_url(),
                            ..Default::default()
                        },
                        &["request.url"],
                    ),
                ))
                .await
        ),
        ["IMPORTED_QUERY_NEEDS_OWN_AUTH"]
    );
    // ...unless the same update switches to a credential of the client's own.
    let own_credential = library.credential(family.client_a).await;
    let moved = client
        .update_data_source(with(
            &editor,
            update(
                pb::DataSource {
                    id: instance.clone(),
                    request: elsewhere_url(),
                    auth: auth_credential(own_credential),
                    ..Default::default()
                },
                &["request.url", "auth"],
            ),
        ))
        .await
        .unwrap()
        .into_inner()
        .data_source
        .unwrap();
    assert_eq!(moved.version, renamed.version + 1);
    assert_ne!(moved.fingerprint, master.fingerprint);
    assert_eq!(
        moved.auth,
        auth_credential(own_credential).map(|mut a| {
            a.kind = pb::AuthKind::Credential as i32;
            a
        })
    );

    // The same for the partner's token, borrowed through a grant (I6).
    let mut master = json_source(None, "GA", "https://analytics.example.com/");
    master.auth = auth_token(partner_token);
    let master = library
        .data_source(&tokens::editor(family.partner), master)
        .await;
    let instance = import(&library, family.partner, family.client_b, &master.id).await;
    library
        .grant(
            partner_token,
            family.partner,
            family.client_b,
            &instance,
            &master.fingerprint,
        )
        .await;
    assert_eq!(
        preconditions(
            client
                .update_data_source(with(
                    &tokens::editor(family.client_b),
                    update(
                        pb::DataSource {
                            id: instance.clone(),
                            request: elsewhere_url(),
                            ..Default::default()
                        },
                        &["request.url"],
                    ),
                ))
                .await
        ),
        ["IMPORTED_QUERY_NEEDS_OWN_AUTH"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bound_data_source_is_deleted_only_with_force_leaving_dangling_bindings() {
    let library = start().await;
    let mut client = library.client();
    let account = library.standard().await;
    let editor = tokens::editor(account);
    let source = library
        .data_source(&editor, json_source(None, "s", "https://api.example.com/"))
        .await;
    let other = library
        .data_source(&editor, json_source(None, "t", "https://api.example.com/t"))
        .await;
    let klip = library
        .klip(
            &editor,
            klip_of(None, "k", &["@0.a + @1.b"], &[&source.id, &other.id]),
        )
        .await;
    let delete = |force: bool| {
        let mut client = library.client();
        let request = pb::DeleteDataSourceRequest {
            id: source.id.clone(),
            force,
            ..Default::default()
        };
        let token = editor.clone();
        async move { client.delete_data_source(with(&token, request)).await }
    };

    let in_use = failure(delete(false).await, Code::FailedPrecondition);
    assert!(in_use.message().contains(&klip.id), "{in_use:?}");
    delete(true).await.unwrap();
    let after = client
        .get_klip(with(
            &editor,
            pb::GetKlipRequest {
                id: klip.id.clone(),
                account_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .klip
        .unwrap();
    let bound: Vec<_> = after
        .bindings
        .iter()
        .map(|b| b.data_source_id.as_str())
        .collect();
    assert_eq!(bound, ["", other.id.as_str()]);
    assert_eq!(after.version, klip.version + 1);
    failure(delete(true).await, Code::NotFound);

    // An unbound data source goes without force; the viewer cannot delete anything.
    failure(
        client
            .delete_data_source(with(
                &tokens::viewer(account),
                pb::DeleteDataSourceRequest {
                    id: other.id.clone(),
                    force: true,
                    ..Default::default()
                },
            ))
            .await,
        Code::PermissionDenied,
    );
    let lonely = library
        .data_source(&editor, json_source(None, "u", "https://api.example.com/u"))
        .await;
    client
        .delete_data_source(with(
            &editor,
            pb::DeleteDataSourceRequest {
                id: lonely.id,
                etag: lonely.etag,
                ..Default::default()
            },
        ))
        .await
        .unwrap();
}
