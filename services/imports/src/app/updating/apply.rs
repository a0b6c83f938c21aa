//! Applying a batch of updates through the library.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use tonic::Status;
use trellis_platform::error::StoreError;
use trellis_platform::peer::upstream;
use trellis_proto::imports::v1 as pb;
use trellis_proto::imports::v1::UpdateOutcome::{Failed, Updated};
use trellis_proto::library::v1 as library;
use uuid::Uuid;

use super::{Context, Pending, SourcePush, batch_request_id, reported, result, store_failure};
use crate::domain::link::Link;
use crate::store::links;

/// The data sources a batch pushes, by instance id, and the library's answers.
type Pushes = BTreeMap<String, SourcePush>;
type Pushed = HashMap<String, library::DataSourceDefinitionResult>;

impl Context<'_> {
    /// I14: a pushed definition changes what the instance fetches, so its grant or
    /// credential copy is bound to the new fingerprint (the master's admin pushed the
    /// master's own query; the token registry refuses the old binding from now on).
    async fn rebind(&self, push: &SourcePush, fingerprint: &str) -> Result<(), Status> {
        let parse = |id: &str| {
            Uuid::parse_str(id).map_err(|_| Status::internal("the library answered a malformed id"))
        };
        let master_account = parse(&push.master.account_id)?;
        let account = parse(&push.update.account_id)?;
        let data_source = parse(&push.update.data_source_id)?;
        // Per update call (a retry of the same call replays; a later push rebinds anew).
        let request_id = batch_request_id(
            self.request,
            "rebind",
            &[data_source.to_string(), fingerprint.to_owned()],
        );
        let tokens_down = |s| Status::from(upstream("tokens")(s));
        match push.master.auth.as_ref().and_then(|a| a.method.as_ref()) {
            Some(library::data_source_auth::Method::TokenId(token)) => {
                self.peers
                    .grant(
                        request_id,
                        parse(token)?,
                        master_account,
                        account,
                        data_source,
                        fingerprint,
                    )
                    .await
                    .map_err(tokens_down)?;
            }
            Some(library::data_source_auth::Method::CredentialId(credential)) => {
                self.peers
                    .copy_credential(
                        request_id,
                        parse(credential)?,
                        master_account,
                        account,
                        data_source,
                        fingerprint,
                    )
                    .await
                    .map_err(tokens_down)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies a batch: data-source pushes first, then the Klips whose pushes succeeded.
    /// Returns the outcomes and the links re-synced to what was applied.
    pub(super) async fn apply(
        &self,
        pending: Vec<Pending>,
    ) -> Result<(Vec<pb::InstanceUpdateResult>, Vec<Link>), Status> {
        let mut pushes = Pushes::new();
        for update in &pending {
            for push in &update.sources {
                pushes
                    .entry(push.update.data_source_id.clone())
                    .or_insert_with(|| push.clone());
            }
        }
        let pushed = self.push_sources(&pushes).await?;
        let mut outcomes = Vec::with_capacity(pending.len());
        let mut applying = Vec::new();
        for update in pending {
            let failed_push = update.sources.iter().find_map(|s| {
                let r = pushed.get(&s.update.data_source_id)?;
                (!applied(r.outcome)).then(|| r.error.clone())
            });
            match failed_push {
                Some(error) => outcomes.push(result(
                    &update.link,
                    Failed,
                    format!("pushing a data source failed: {error}"),
                )),
                None => applying.push(update),
            }
        }
        if applying.is_empty() {
            return Ok((outcomes, Vec::new()));
        }
        let answers = self.apply_klips(&applying).await?;
        let now = Utc::now();
        let mut synced_links = Vec::new();
        let mut source_links: BTreeSet<Uuid> = BTreeSet::new();
        for update in applying {
            let outcome = match answers.get(&update.klip.klip_id) {
                None => result(
                    &update.link,
                    Failed,
                    "the library did not answer for it".into(),
                ),
                Some(answer) if !applied(answer.outcome) => {
                    result(&update.link, Failed, answer.error.clone())
                }
                Some(answer) => {
                    let (link, sources) = self.synced_link(&update, answer.version, now);
                    synced_links.push(link);
                    source_links.extend(sources);
                    pb::InstanceUpdateResult {
                        instance_version: answer.version,
                        ..reported(&update.link, Updated, &update.changes, &update.sources)
                    }
                }
            };
            outcomes.push(outcome);
        }
        let resynced = self
            .resynced_sources(&source_links, &pushes, &pushed, now)
            .await
            .map_err(store_failure)?;
        synced_links.extend(resynced);
        Ok((outcomes, synced_links))
    }

    /// Pushes the master data sources' definitions to their instances, and binds each
    /// pushed instance's grant or copy to its new fingerprint.
    async fn push_sources(&self, pushes: &Pushes) -> Result<Pushed, Status> {
        if pushes.is_empty() {
            return Ok(Pushed::new());
        }
        let ids: Vec<String> = pushes.keys().cloned().collect();
        let request = library::ApplyDataSourceDefinitionsRequest {
            request_id: batch_request_id(self.request, "data_sources", &ids),
            updates: pushes.values().map(|p| p.update.clone()).collect(),
            variable_defaults: self.variable_defaults.clone(),
        };
        let answer = self
            .peers
            .apply_data_sources(request)
            .await
            .map_err(library_down)?;
        let pushed: Pushed = answer
            .results
            .into_iter()
            .map(|r| (r.data_source_id.clone(), r))
            .collect();
        for (id, answer) in &pushed {
            if let Some(push) = pushes.get(id)
                && applied(answer.outcome)
            {
                self.rebind(push, &answer.fingerprint).await?;
            }
        }
        Ok(pushed)
    }

    /// The library's answers for the Klips, by instance id.
    async fn apply_klips(
        &self,
        applying: &[Pending],
    ) -> Result<HashMap<String, library::KlipDefinitionResult>, Status> {
        let ids: Vec<String> = applying.iter().map(|u| u.klip.klip_id.clone()).collect();
        let request = library::ApplyKlipDefinitionsRequest {
            request_id: batch_request_id(self.request, "klips", &ids),
            updates: applying.iter().map(|u| u.klip.clone()).collect(),
            variable_defaults: self.variable_defaults.clone(),
        };
        let answer = self
            .peers
            .apply_klips(request)
            .await
            .map_err(library_down)?;
        Ok(answer
            .results
            .into_iter()
            .map(|r| (r.klip_id.clone(), r))
            .collect())
    }

    /// `update`'s link re-synced to what was applied (the instance now at `version`), and
    /// the instance data sources pushed with it.
    fn synced_link(&self, update: &Pending, version: i64, now: DateTime<Utc>) -> (Link, Vec<Uuid>) {
        let mut link = update.link.clone();
        link.master_version_synced = self.master.state.version;
        link.instance_version_synced = version;
        link.synced_definition = Some(update.target.clone());
        link.last_update_time = Some(now);
        let mut sources = Vec::new();
        for push in &update.sources {
            if let Ok(master_id) = Uuid::parse_str(&push.master.id)
                && let Some(bound) = link.data_sources.get_mut(&master_id)
            {
                bound.fingerprint = push.master.fingerprint.clone();
                sources.push(bound.instance_id);
            }
        }
        (link, sources)
    }

    /// The links of the pushed instance data sources, re-synced to their masters.
    async fn resynced_sources(
        &self,
        instances: &BTreeSet<Uuid>,
        pushes: &Pushes,
        pushed: &Pushed,
        now: DateTime<Utc>,
    ) -> Result<Vec<Link>, StoreError> {
        let ids: Vec<Uuid> = instances.iter().copied().collect();
        let mut conn = trellis_platform::db::connect(self.pool).await?;
        let mut synced = Vec::new();
        for mut link in links::get_many(&mut conn, &ids).await? {
            let id = link.instance.id.to_string();
            let (Some(answer), Some(push)) = (pushed.get(&id), pushes.get(&id)) else {
                continue;
            };
            link.master_fingerprint = push.master.fingerprint.clone();
            link.master_version_synced = push.master.version;
            link.instance_version_synced = answer.version;
            link.last_update_time = Some(now);
            synced.push(link);
        }
        Ok(synced)
    }
}

/// The library applied the definition (or found it applied already).
fn applied(outcome: i32) -> bool {
    matches!(
        library::ApplyOutcome::try_from(outcome),
        Ok(library::ApplyOutcome::Applied | library::ApplyOutcome::Unchanged)
    )
}

fn library_down(status: Status) -> Status {
    upstream("library")(status).into()
}
