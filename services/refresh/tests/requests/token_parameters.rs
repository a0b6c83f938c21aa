//! `{token.NAME}`: the fetcher fills it from the token's parameters and names one the token
//! lacks; end to end, a provider that keeps `instance_url` from its token answers
//! (as Salesforce's does), a data source whose URL starts with `{token.instance_url}`, and
//! the request sent where the token says; after a 401 the refreshed token's new
//! `instance_url` is used.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use trellis_proto::library::v1 as library;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_refresh::domain::job::DataFormat;
use trellis_refresh::fetch::{Credentials, Fetcher, HttpRequest, OAuthToken};
use trellis_testkit::data_api::{Auth, DataApi, Reply};
use trellis_testkit::oauth::{OAuthServer, OAuthServerConfig};

use super::fetcher::{failure, fetched, get, settings};
use super::world::{Setup, Source, setup};
use crate::common::*;

/// A provider keeping `instance_url`, and a token of it authorized by the account's admin.
async fn token_keeping_instance_url(setup: &Setup, oauth: &OAuthServer) -> String {
    let provider = tokens_pb::Provider {
        token_parameters: vec!["instance_url".into()],
        ..oauth.provider()
    };
    let token = setup.world.authorized_token(setup.account, provider).await;
    assert_eq!(
        token.parameters.get("instance_url").map(String::as_str),
        Some(setup.world.api.url("/na1").as_str()),
        "the token keeps its instance URL"
    );
    token.id
}

#[tokio::test(flavor = "multi_thread")]
async fn the_request_goes_to_the_instance_url_of_the_token() {
    let setup = setup(fast_settings()).await;
    let api = &setup.world.api;
    let oauth = Arc::new(OAuthServer::start(OAuthServerConfig::default()).await);
    oauth.set_extra_token_fields(json!({"instance_url": api.url("/na1")}));
    let checker = oauth.clone();
    api.require(Auth::Bearer(Arc::new(move |token: &str| {
        checker.is_access_token_valid(token)
    })));
    api.set_json("/na1/services/data/query", json!({"records": ["first"]}));
    api.set_json("/na2/services/data/query", json!({"records": ["moved"]}));

    let token = token_keeping_instance_url(&setup, &oauth).await;
    let source = setup
        .source(Source {
            url: "{token.instance_url}/services/data/query?q=accounts".into(),
            auth: Some(library::data_source_auth::Method::TokenId(token)),
            ..Default::default()
        })
        .await;
    let (data, _) = setup.refreshed(source).await;
    assert_eq!(data, json!({"records": ["first"]}));
    let sent = api.arrivals_for("/na1/services/data/query");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url, api.url("/na1/services/data/query?q=accounts"));

    // The org moved: the API refuses the old token, the refreshed one names the new place.
    oauth.set_extra_token_fields(json!({"instance_url": api.url("/na2")}));
    api.fail_next("/na1/services/data/query", 1, Reply::status(401));
    let (data, _) = setup.refreshed(source).await;
    assert_eq!(data, json!({"records": ["moved"]}));
    assert_eq!(api.requests_for("/na2/services/data/query"), 1);
}

#[tokio::test]
async fn token_parameters_fill_the_request_and_a_missing_one_is_named() {
    let api = DataApi::start().await;
    api.require(Auth::AnyBearer);
    api.set_json("/services/data/query", json!({"records": [1]}));
    let fetcher = Fetcher::new(&settings()).unwrap();
    let request = HttpRequest {
        headers: vec![("X-Org".into(), "{token.org}".into())],
        ..get(
            "{token.instance_url}/services/data/query?q=1".into(),
            DataFormat::Json,
        )
    };
    let token = OAuthToken {
        access_token: "at-1".into(),
        parameters: BTreeMap::from([
            ("instance_url".to_owned(), api.url("")),
            ("org".to_owned(), "00D1".to_owned()),
        ]),
    };
    let body = fetched(
        fetcher
            .fetch(&request, &Credentials::Bearer(token.clone()))
            .await,
    );
    assert_eq!(body.data, json!({"records": [1]}));
    let arrival = api.arrivals().pop().unwrap();
    assert_eq!(arrival.url, api.url("/services/data/query?q=1"));
    assert!(arrival.headers.contains(&("x-org".into(), "00D1".into())));

    let lacking = OAuthToken {
        parameters: BTreeMap::from([("org".to_owned(), "00D1".to_owned())]),
        ..token
    };
    let error = failure(fetcher.fetch(&request, &Credentials::Bearer(lacking)).await);
    assert!(error.contains("`{token.instance_url}`"), "{error}");
    assert!(!error.contains("at-1"), "{error}");
    assert_eq!(api.requests(), 1, "nothing sent without the parameter");
}
