//! Bad definitions are INVALID_ARGUMENT naming each field, on create and on update.

use super::*;

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
    let (library, account, editor) = start_standard().await;
    let mut client = library.client();

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
    let broken = update_source(
        &library,
        &editor,
        pb::DataSource {
            id: created.id.clone(),
            request: Some(pb::HttpRequestTemplate {
                url: "https://x/{props.".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        &["request.url"],
    )
    .await;
    assert_eq!(violations(broken)[0].0, "data_source.request.url");
    let unchanged = library.get_data_source(&editor, &created.id).await;
    assert_eq!(unchanged.version, 1);
}
