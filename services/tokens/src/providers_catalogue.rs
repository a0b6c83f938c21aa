//! `trellis-tokens catalogue`: loads the provider catalogue into the service's database as
//! the providers every account sees, keyed by catalogue key (docs/tokens.md, "Providers").
//!
//! It reads the catalogue (`--file`, else the repository's `catalogue/providers.toml`
//! built into the binary) and, optionally, the OAuth apps an operator registered for its
//! entries (`--clients` or `TRELLIS_CATALOGUE_CLIENTS`). Every entry is checked before
//! anything is written. Run it after the database is migrated (after `migrate`, or once a
//! server that migrates at start is up); loading again changes nothing.

use std::path::PathBuf;

use anyhow::Context as _;
use trellis_platform::config::{CommonConfig, ServiceKind};
use trellis_platform::db::{self, DbPool};

use crate::app::providers_catalogue::{self as app, Outcome};
use crate::crypto::Keyring;
use crate::domain::providers_catalogue::{BUILT_IN, Catalogue, Clients};
use crate::settings::Settings;

/// The command line of `trellis-tokens catalogue`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "trellis-tokens catalogue",
    about = "Load the provider catalogue as the providers every account sees (idempotent)"
)]
pub struct CatalogueCli {
    #[command(flatten)]
    pub common: CommonConfig,
    #[command(flatten)]
    pub settings: Settings,
    #[command(flatten)]
    pub args: CatalogueArgs,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct CatalogueArgs {
    /// The catalogue to load; without it, the one built into this binary (the repository's
    /// catalogue/providers.toml).
    #[arg(long = "file", env = "TRELLIS_CATALOGUE_FILE")]
    pub file: Option<PathBuf>,
    /// OAuth apps for catalogue providers: a TOML file of `[key]` tables with `client_id`
    /// and `client_secret`. A provider keeps a client id or secret it already has.
    #[arg(long = "clients", env = "TRELLIS_CATALOGUE_CLIENTS")]
    pub clients: Option<PathBuf>,
}

/// What a load did, by catalogue key in the catalogue's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
}

/// Runs the command: reads the files, checks them, and loads them into the database.
pub async fn run(cli: CatalogueCli) -> anyhow::Result<Report> {
    let catalogue = match &cli.args.file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the catalogue {}", path.display()))?,
        None => BUILT_IN.to_owned(),
    };
    let clients = match &cli.args.clients {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the clients file {}", path.display()))?,
        ),
        None => None,
    };
    let keyring = cli.settings.keyring()?;
    if keyring.is_development() && clients.is_some() {
        anyhow::ensure!(
            cli.common.development,
            "TRELLIS_TOKENS_ENCRYPTION_KEYS is not set: client secrets would be sealed with \
             the public development key. Set the service's keys, or TRELLIS_DEVELOPMENT=true"
        );
    }
    let pool = db::pool(&cli.common.database_url(ServiceKind::Tokens), 1)?;
    let report = load(&pool, &keyring, &catalogue, clients.as_deref()).await?;
    tracing::info!(
        created = report.created.len(),
        updated = report.updated.len(),
        unchanged = report.unchanged.len(),
        "provider catalogue loaded"
    );
    Ok(report)
}

/// Loads `catalogue` (TOML text), with the OAuth apps of `clients` (TOML text), as the
/// operators' providers. Nothing is written unless both files are understood whole.
pub async fn load(
    pool: &DbPool,
    keyring: &Keyring,
    catalogue: &str,
    clients: Option<&str>,
) -> anyhow::Result<Report> {
    let catalogue =
        Catalogue::parse(catalogue).map_err(|e| anyhow::anyhow!("the catalogue: {e}"))?;
    let clients = match clients {
        Some(text) => Clients::parse(text).map_err(|e| anyhow::anyhow!("the clients file: {e}"))?,
        None => Clients::default(),
    };
    let unknown: Vec<&str> = clients
        .0
        .keys()
        .filter(|key| !catalogue.providers.iter().any(|e| &e.key == *key))
        .map(String::as_str)
        .collect();
    anyhow::ensure!(
        unknown.is_empty(),
        "the clients file names keys the catalogue does not have: {}",
        unknown.join(", ")
    );
    let rows = crate::api::providers_catalogue::provider_rows(&catalogue)?;
    let mut conn = db::connect(pool).await?;
    let mut report = Report::default();
    for row in rows {
        let key = row.catalogue_key.clone();
        let outcome = app::upsert(&mut conn, keyring, row, clients.0.get(&key))
            .await
            .map_err(|error| anyhow::anyhow!("catalogue entry {key:?}: {error}"))?;
        match outcome {
            Outcome::Created => report.created.push(key),
            Outcome::Updated => report.updated.push(key),
            Outcome::Unchanged => report.unchanged.push(key),
        }
    }
    Ok(report)
}
