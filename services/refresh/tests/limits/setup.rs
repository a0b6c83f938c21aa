//! What the end-to-end limit tests set up through the real library and token registry: an
//! OAuth provider with a token limit and a rate-limit-key limit, an API key with a limit of
//! its own and copies of it in other accounts (as an import makes them), data sources with a
//! limit of their rate-limit key, and what the data API saw per window.

use std::time::{Duration, Instant};

use trellis_platform::auth::Identity;
use trellis_proto::library::v1 as library;
use trellis_proto::tokens::v1 as tokens_pb;
use trellis_testkit::data_api::{Arrival, max_in_window};
use trellis_testkit::oauth::OAuthServer;
use trellis_testkit::tokens;
use uuid::Uuid;

use crate::common::{
    Services, World, call, fast_settings, login, refresh_client, source_of, wait_until_fetched,
};

pub fn seconds(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

/// A token registry limit: `requests` per `period_s`, `further` rates, `at_once` at once.
pub fn api_limit(
    requests: i32,
    period_s: i64,
    further: &[(i32, i64)],
    at_once: i32,
) -> tokens_pb::ApiLimit {
    tokens_pb::ApiLimit {
        requests_per_period: requests,
        period: seconds(period_s),
        max_concurrent: at_once,
        additional_rates: further
            .iter()
            .map(|(requests, period_s)| tokens_pb::ApiRate {
                requests: *requests,
                period: seconds(*period_s),
            })
            .collect(),
    }
}

/// The most arrivals `which` selects in any window of `window`.
pub fn most_in(arrivals: &[Arrival], window: Duration, which: impl Fn(&Arrival) -> bool) -> usize {
    let times: Vec<Instant> = arrivals.iter().filter(|a| which(a)).map(|a| a.at).collect();
    max_in_window(times, window)
}

impl Services {
    /// Registers `oauth` as a provider with these limits and runs the code flow for
    /// `account`'s admin; answers the token's id.
    pub async fn token_of_provider(
        &self,
        oauth: &OAuthServer,
        account: Uuid,
        token_limit: Option<tokens_pb::ApiLimit>,
        rate_limit_key_limit: Option<tokens_pb::ApiLimit>,
    ) -> String {
        let provider = tokens_pb::Provider {
            token_limit,
            rate_limit_key_limit,
            ..oauth.provider()
        };
        self.authorized_token(account, provider).await.id
    }

    /// An API key sent as the query parameter `name`, with the API's `limit`.
    pub async fn limited_api_key(
        &self,
        account: Uuid,
        name: &str,
        key: &str,
        limit: tokens_pb::ApiLimit,
    ) -> String {
        self.api_key_credential(account, name, key, Some(limit))
            .await
    }

    /// What an import does for a data source using a credential: a copy of `master`'s
    /// `credential` into `destination` made for `clone` alone, and the clone pointed at it
    /// (the clone then has the master's request and fingerprint). Answers the copy's id.
    pub async fn copy_for_clone(
        &self,
        credential: &str,
        (source_account, master): (Uuid, Uuid),
        (destination, clone): (Uuid, Uuid),
    ) -> String {
        let imports = tokens::service_as(Identity::Imports);
        let fingerprint = self
            .library_client()
            .get_data_source(call(
                library::GetDataSourceRequest {
                    id: master.to_string(),
                    account_id: source_account.to_string(),
                },
                &imports,
            ))
            .await
            .expect("GetDataSource")
            .into_inner()
            .data_source
            .expect("a data source")
            .fingerprint;
        let copy = self
            .tokens_client()
            .copy_credential(call(
                tokens_pb::CopyCredentialRequest {
                    request_id: String::new(),
                    credential_id: credential.to_owned(),
                    destination_account_id: destination.to_string(),
                    data_source_id: clone.to_string(),
                    source_account_id: source_account.to_string(),
                    request_fingerprint: fingerprint,
                },
                &imports,
            ))
            .await
            .expect("CopyCredential")
            .into_inner()
            .credential
            .expect("a copy")
            .id;
        self.library_client()
            .update_data_source(call(
                library::UpdateDataSourceRequest {
                    request_id: String::new(),
                    data_source: Some(library::DataSource {
                        id: clone.to_string(),
                        account_id: destination.to_string(),
                        auth: Some(library::DataSourceAuth {
                            kind: library::AuthKind::Credential as i32,
                            method: Some(library::data_source_auth::Method::CredentialId(
                                copy.clone(),
                            )),
                        }),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["auth".into()],
                    }),
                },
                &imports,
            ))
            .await
            .expect("UpdateDataSource");
        copy
    }

    /// A data source of `account` without auth fetching `url` hourly, whose rate-limit
    /// `key` keeps to `limit` across the account's family.
    pub async fn source_with_key_limit(
        &self,
        account: Uuid,
        url: &str,
        key: &str,
        limit: library::SourceLimit,
    ) -> Uuid {
        self.create_data_source(library::DataSource {
            rate_limit_key: key.to_owned(),
            rate_limit_key_limit: Some(limit),
            ..source_of(account, url, Duration::from_secs(3600))
        })
        .await
    }
}

/// A data source's limit: `requests` per `period_s` and `at_once` at once.
pub fn source_limit(requests: i32, period_s: i64, at_once: i32) -> library::SourceLimit {
    library::SourceLimit {
        rates: vec![library::Rate {
            requests,
            period: seconds(period_s),
        }],
        max_concurrent: at_once,
    }
}

/// Two replicas of 8 workers each; the analyst of `account` logs in, which queues every one of
/// `sources`, and waits until all are fetched. Answers the time from the login to the last
/// fetch.
pub async fn fetch_all_on_two_replicas(world: &World, account: Uuid, sources: &[Uuid]) -> Duration {
    let mut settings = fast_settings();
    settings.workers = 8;
    settings.batch_size = 8;
    let first = world.replica(settings.clone()).await;
    let _second = world.replica(settings).await;
    let mut client = refresh_client(&first);
    let started = Instant::now();
    assert_eq!(
        login(&mut client, account, "analyst").await.queued_jobs as usize,
        sources.len(),
        "the login queues every data source"
    );
    wait_until_fetched(&client, account, sources).await;
    started.elapsed()
}
