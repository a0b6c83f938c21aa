//! Applying a batch of updates through the library.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Utc;
use tonic::Status;
use trellis_proto::imports::v1 as pb;
use trellis_proto::library::v1 as library;
use uuid::Uuid;

use super::{Context, Pending, SourcePush, batch_request_id, result, store_failure};
use crate::domain::drift::Change;
use crate::domain::link::Link;
use crate::peers::upstream;
use crate::store::{self, links};

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
        use pb::UpdateOutcome::*;
        let library_down = |s| Status::from(upstream("library")(s));
        let mut pushes: BTreeMap<String, SourcePush> = BTreeMap::new();
        for update in &pending {
            for push in &update.sources {
                pushes
                    .entry(push.update.data_source_id.clone())
                    .or_insert_with(|| push.clone());
            }
        }
        let mut pushed: HashMap<String, library::DataSourceDefinitionResult> = HashMap::new();
        if !pushes.is_empty() {
            let ids: Vec<String> = pushes.keys().cloned().collect();
            let answer = self
                .peers
                .apply_data_sources(library::ApplyDataSourceDefinitionsRequest {
                    request_id: batch_request_id(self.request, "data_sources", &ids),
                    updates: pushes.values().map(|p| p.update.clone()).collect(),
                    variable_defaults: self.variable_defaults.clone(),
                })
                .await
                .map_err(library_down)?;
            pushed = answer
                .results
                .into_iter()
                .map(|r| (r.data_source_id.clone(), r))
                .collect();
        }
        let ok = |outcome: i32| {
            matches!(
                library::ApplyOutcome::try_from(outcome),
                Ok(library::ApplyOutcome::Applied | library::ApplyOutcome::Unchanged)
            )
        };
        for (id, answer) in &pushed {
            if let Some(push) = pushes.get(id)
                && ok(answer.outcome)
            {
                self.rebind(push, &answer.fingerprint).await?;
            }
        }
        let mut outcomes = Vec::with_capacity(pending.len());
        let mut applying = Vec::new();
        for update in pending {
            let failed_push = update.sources.iter().find_map(|s| {
                let r = pushed.get(&s.update.data_source_id)?;
                (!ok(r.outcome)).then(|| r.error.clone())
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
        let ids: Vec<String> = applying.iter().map(|u| u.klip.klip_id.clone()).collect();
        let answer = self
            .peers
            .apply_klips(library::ApplyKlipDefinitionsRequest {
                request_id: batch_request_id(self.request, "klips", &ids),
                updates: applying.iter().map(|u| u.klip.clone()).collect(),
                variable_defaults: self.variable_defaults.clone(),
            })
            .await
            .map_err(library_down)?;
        let applied: HashMap<String, library::KlipDefinitionResult> = answer
            .results
            .into_iter()
            .map(|r| (r.klip_id.clone(), r))
            .collect();

        let now = Utc::now();
        let mut synced_links = Vec::new();
        let mut source_links: BTreeSet<Uuid> = BTreeSet::new();
        for update in applying {
            let Some(answer) = applied.get(&update.klip.klip_id) else {
                outcomes.push(result(
                    &update.link,
                    Failed,
                    "the library did not answer for it".into(),
                ));
                continue;
            };
            if !ok(answer.outcome) {
                outcomes.push(result(&update.link, Failed, answer.error.clone()));
                continue;
            }
            let mut link = update.link.clone();
            link.master_version_synced = self.master.state.version;
            link.instance_version_synced = answer.version;
            link.synced_definition = Some(update.target.clone());
            link.last_update_time = Some(now);
            for push in &update.sources {
                if let Ok(master_id) = Uuid::parse_str(&push.master.id)
                    && let Some(bound) = link.data_sources.get_mut(&master_id)
                {
                    bound.fingerprint = push.master.fingerprint.clone();
                    source_links.insert(bound.instance_id);
                }
            }
            synced_links.push(link);
            let mut outcome = result(&update.link, Updated, String::new());
            outcome.instance_version = answer.version;
            outcome.changes = update.changes.iter().map(Change::to_proto).collect();
            outcome.data_sources_pushed = update
                .sources
                .iter()
                .map(|s| s.update.data_source_id.clone())
                .collect();
            outcomes.push(outcome);
        }

        let mut conn = store::connect(self.pool).await.map_err(store_failure)?;
        let ids: Vec<Uuid> = source_links.into_iter().collect();
        for mut link in links::get_many(&mut conn, &ids)
            .await
            .map_err(store_failure)?
        {
            let Some(answer) = pushed.get(&link.instance.id.to_string()) else {
                continue;
            };
            let Some(push) = pushes.get(&link.instance.id.to_string()) else {
                continue;
            };
            link.master_fingerprint = push.master.fingerprint.clone();
            link.master_version_synced = push.master.version;
            link.instance_version_synced = answer.version;
            link.last_update_time = Some(now);
            synced_links.push(link);
        }
        Ok((outcomes, synced_links))
    }
}
