//! The provider catalogue's entries as providers: each one checked by the rules a
//! CreateProvider meets (a template URL's `{name}` read as `name`), then stored as the
//! operators' provider of its key, without an OAuth app until one is given.

use std::time::Duration;

use trellis_proto::tokens::v1::{ApiLimit, ApiRate, Provider};
use uuid::Uuid;

use super::{convert, validate};
use crate::domain::providers_catalogue::{Catalogue, Entry, EntryLimit, period};
use crate::store::providers::ProviderRow;

/// The rows of the catalogue's providers, each checked; an entry that fails names its key
/// and every problem.
pub fn provider_rows(catalogue: &Catalogue) -> anyhow::Result<Vec<ProviderRow>> {
    catalogue
        .providers
        .iter()
        .map(|entry| {
            let provider = provider(entry)
                .map_err(|problem| anyhow::anyhow!("catalogue entry {:?}: {problem}", entry.key))?;
            let checked = Provider {
                authorization_url: without_placeholders(&provider.authorization_url),
                token_url: without_placeholders(&provider.token_url),
                revocation_url: without_placeholders(&provider.revocation_url),
                userinfo_url: without_placeholders(&provider.userinfo_url),
                ..provider.clone()
            };
            validate::check_provider(&checked, "")
                .map_err(|error| anyhow::anyhow!("catalogue entry {:?}: {error}", entry.key))?;
            Ok(convert::provider_row(Uuid::now_v7(), &provider, None, None))
        })
        .collect()
}

fn without_placeholders(url: &str) -> String {
    crate::domain::providers_catalogue::without_placeholders(url)
}

fn provider(entry: &Entry) -> Result<Provider, String> {
    Ok(Provider {
        name: entry.name.clone(),
        authorization_url: entry.authorization_url.clone(),
        token_url: entry.token_url.clone(),
        revocation_url: entry.revocation_url.clone(),
        userinfo_url: entry.userinfo_url.clone(),
        scopes: entry.scopes.clone(),
        authorization_parameters: entry
            .authorization_parameters
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        max_tokens_per_user: entry.max_tokens_per_user,
        warn_tokens_per_user: entry.warn_tokens_per_user,
        token_limit: entry.token_limit.as_ref().map(limit).transpose()?,
        rate_limit_key_limit: entry.rate_limit_key_limit.as_ref().map(limit).transpose()?,
        catalogue_key: entry.key.clone(),
        token_parameters: entry.token_parameters.clone(),
        ..Provider::default()
    })
}

fn limit(limit: &EntryLimit) -> Result<ApiLimit, String> {
    Ok(ApiLimit {
        requests_per_period: limit.requests_per_period,
        period: period(&limit.period)?.map(duration),
        max_concurrent: limit.max_concurrent,
        additional_rates: limit
            .additional_rates
            .iter()
            .map(|rate| {
                Ok(ApiRate {
                    requests: rate.requests,
                    period: period(&rate.period)?.map(duration),
                })
            })
            .collect::<Result<_, String>>()?,
    })
}

fn duration(period: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: period.as_secs() as i64,
        nanos: period.subsec_nanos() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::providers_catalogue::BUILT_IN;

    #[test]
    fn every_built_in_entry_passes_the_provider_rules() {
        let catalogue = Catalogue::parse(BUILT_IN).expect("the catalogue");
        let rows = provider_rows(&catalogue).expect("checked");
        let google = rows.iter().find(|r| r.catalogue_key == "google").unwrap();
        assert_eq!(google.max_tokens_per_user, 100);
        let limits = google.limits();
        assert_eq!(limits.rate_limit_key.max_concurrent, 10);
        assert_eq!(limits.rate_limit_key.additional_rates.len(), 1);
        assert_eq!(
            limits.rate_limit_key.additional_rates[0].period_ms,
            86_400_000
        );
        assert!(rows.iter().all(|r| r.client_id.is_empty()));
        let shopify = rows.iter().find(|r| r.catalogue_key == "shopify").unwrap();
        assert!(
            shopify.authorization_url.contains("{shop}"),
            "kept as a template"
        );
    }

    #[test]
    fn an_entry_breaking_the_rules_is_named() {
        let text = "[[provider]]\nkey = \"bad\"\nname = \"Bad\"\n\
                    authorization_url = \"http://example.com/a\"\ntoken_url = \"https://t\"\n";
        let error = provider_rows(&Catalogue::parse(text).unwrap()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("\"bad\""), "{message}");
        assert!(message.contains("authorization_url"), "{message}");
    }
}
