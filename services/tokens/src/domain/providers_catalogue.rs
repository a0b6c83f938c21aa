//! The provider catalogue as data (`catalogue/providers.toml`): common OAuth providers with
//! their endpoints, default scopes, token caps (T2) and API limits (F5), and the file an
//! operator keeps the OAuth apps' client ids and secrets in (`TRELLIS_CATALOGUE_CLIENTS`).
//! Plain types read with serde from TOML; `crate::providers_catalogue` loads them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use crate::secret::Secret;

/// The catalogue compiled into the binary: the repository's file.
pub const BUILT_IN: &str = include_str!("../../../../catalogue/providers.toml");

/// The longest catalogue key.
pub const MAX_KEY_CHARS: usize = 100;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    #[serde(rename = "provider", default)]
    pub providers: Vec<Entry>,
}

/// One provider of the catalogue; the fields mean what `Provider`'s do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub key: String,
    pub name: String,
    pub authorization_url: String,
    pub token_url: String,
    #[serde(default)]
    pub revocation_url: String,
    #[serde(default)]
    pub userinfo_url: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub authorization_parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub max_tokens_per_user: i32,
    #[serde(default)]
    pub warn_tokens_per_user: i32,
    #[serde(default)]
    pub token_limit: Option<EntryLimit>,
    #[serde(default)]
    pub rate_limit_key_limit: Option<EntryLimit>,
    #[serde(default)]
    pub token_parameters: Vec<String>,
    /// What an admin registering an app needs to know; not loaded.
    #[serde(default)]
    pub notes: String,
}

/// An API limit with its periods written as durations (`1s`, `100s`, `1d`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryLimit {
    #[serde(default)]
    pub requests_per_period: i32,
    #[serde(default)]
    pub period: String,
    #[serde(default)]
    pub max_concurrent: i32,
    #[serde(default)]
    pub additional_rates: Vec<EntryRate>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRate {
    pub requests: i32,
    pub period: String,
}

impl Catalogue {
    /// Reads a catalogue; its keys must be unique words (`google`, `microsoft`, …).
    pub fn parse(text: &str) -> Result<Catalogue, String> {
        let catalogue: Catalogue = toml::from_str(text).map_err(|error| error.to_string())?;
        let mut seen = BTreeSet::new();
        for entry in &catalogue.providers {
            if !is_key(&entry.key) {
                return Err(format!(
                    "catalogue key {:?} is not a lower-case word of at most {MAX_KEY_CHARS} \
                     characters (letters, digits, `_`, `-`)",
                    entry.key
                ));
            }
            if !seen.insert(entry.key.as_str()) {
                return Err(format!("catalogue key {:?} appears twice", entry.key));
            }
        }
        Ok(catalogue)
    }
}

/// A catalogue key: lower-case letters, digits, `_` and `-`.
pub fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A period of the catalogue, e.g. `1s` or `1d`; empty means none.
pub fn period(text: &str) -> Result<Option<Duration>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    trellis_platform::config::parse_duration(text).map(Some)
}

/// The `{name}` placeholders of a URL (Shopify's `{shop}`): such a URL is one per app, set
/// when the app is registered.
pub fn placeholders(url: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = url;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        found.push(&after[..end]);
        rest = &after[end + 1..];
    }
    found
}

/// The URL with each `{name}` replaced by `name`: what the URL checks see of a template.
pub fn without_placeholders(url: &str) -> String {
    url.replace(['{', '}'], "")
}

/// The OAuth apps an operator registered for catalogue providers, by catalogue key.
#[derive(Debug, Clone, Default)]
pub struct Clients(pub BTreeMap<String, Client>);

/// One OAuth app: its client id, and its secret if it has one.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub client_secret: Option<Secret>,
}

/// The file's form; never printed (it holds secrets).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFields {
    client_id: String,
    #[serde(default)]
    client_secret: String,
}

impl Clients {
    /// Reads a clients file: a table per catalogue key with `client_id` and
    /// `client_secret`. An error names the line only, never a value of the file.
    pub fn parse(text: &str) -> Result<Clients, String> {
        let fields: BTreeMap<String, ClientFields> = toml::from_str(text).map_err(|error| {
            let line = error.span().and_then(|span| {
                let before = text.get(..span.start)?;
                Some(before.matches('\n').count() + 1)
            });
            format!(
                "{}not a clients file: each entry is `[key]` with `client_id = \"…\"` and \
                 `client_secret = \"…\"`",
                line.map(|l| format!("line {l}: ")).unwrap_or_default()
            )
        })?;
        Ok(Clients(
            fields
                .into_iter()
                .map(|(key, fields)| {
                    let client = Client {
                        client_id: fields.client_id.trim().to_owned(),
                        client_secret: (!fields.client_secret.is_empty())
                            .then(|| Secret::new(fields.client_secret)),
                    };
                    (key, client)
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_catalogue_reads() {
        let catalogue = Catalogue::parse(BUILT_IN).expect("the repository's catalogue");
        let keys: Vec<&str> = catalogue.providers.iter().map(|e| e.key.as_str()).collect();
        for key in [
            "google",
            "microsoft",
            "salesforce",
            "hubspot",
            "xero",
            "facebook",
            "shopify",
            "stripe",
        ] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        for entry in &catalogue.providers {
            for limit in [&entry.token_limit, &entry.rate_limit_key_limit]
                .into_iter()
                .flatten()
            {
                period(&limit.period).expect("a period");
                for rate in &limit.additional_rates {
                    assert!(period(&rate.period).unwrap().is_some());
                }
            }
        }
    }

    #[test]
    fn keys_are_unique_words() {
        let entry = |key: &str| {
            format!(
                "[[provider]]\nkey = \"{key}\"\nname = \"n\"\nauthorization_url = \"https://a\"\ntoken_url = \"https://t\"\n"
            )
        };
        assert!(Catalogue::parse(&entry("Bad Key")).is_err());
        assert!(Catalogue::parse(&format!("{}{}", entry("a"), entry("a"))).is_err());
        assert!(Catalogue::parse(&entry("a")).is_ok());
        assert!(Catalogue::parse("[[provider]]\nkey = \"a\"\nunknown = 1\n").is_err());
    }

    #[test]
    fn placeholders_are_found_and_filled() {
        let url = "https://{shop}.myshopify.com/admin/oauth/authorize";
        assert_eq!(placeholders(url), vec!["shop"]);
        assert_eq!(
            without_placeholders(url),
            "https://shop.myshopify.com/admin/oauth/authorize"
        );
        assert!(placeholders("https://accounts.google.com/o/oauth2/v2/auth").is_empty());
    }

    #[test]
    fn a_broken_clients_file_never_echoes_its_values() {
        let broken = "[google]\nclient_id = \"id\"\nclient_secret = 12345678\n";
        let error = Clients::parse(broken).unwrap_err();
        assert!(!error.contains("12345678"), "{error}");
        assert!(error.contains("line 3"), "{error}");
        let clients = Clients::parse("[google]\nclient_id = \" id \"\nclient_secret = \"s\"\n")
            .expect("a clients file");
        let google = &clients.0["google"];
        assert_eq!(google.client_id, "id");
        assert_eq!(google.client_secret.as_ref().map(Secret::expose), Some("s"));
        assert!(!format!("{clients:?}").contains("\"s\""));
    }
}
