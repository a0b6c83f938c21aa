//! Deciding, per instance, what an update does (I9, I10) and whether a data-source change
//! can be pushed.

use tonic::Status;
use trellis_platform::error::StoreError;
use trellis_proto::imports::v1 as pb;
use trellis_proto::library::v1 as library;
use uuid::Uuid;

use super::{Context, Pending, SourcePush, result, store_failure};
use crate::domain::drift::{self, Change, ChangeKind};
use crate::domain::family::same_family;
use crate::domain::link::{KlipDefinition, Link};
use crate::domain::status::evaluate;
use crate::peers::upstream;
use crate::store::{self, links};

impl Context<'_> {
    pub(super) async fn in_family(&mut self, account: Uuid) -> Result<bool, Status> {
        if let Some(known) = self.families.get(&account) {
            return Ok(*known);
        }
        let found = self
            .peers
            .account(account)
            .await
            .map_err(|s| Status::from(upstream("library")(s)))?;
        let inside = found.is_some_and(|a| same_family(&self.master_account, &a));
        self.families.insert(account, inside);
        Ok(inside)
    }

    /// What to do with one instance: `Ok` to apply, `Err` with a final result.
    pub(super) async fn prepare(
        &mut self,
        link: &Link,
    ) -> Result<Result<Pending, pb::InstanceUpdateResult>, Status> {
        use pb::UpdateOutcome::*;
        let library_down = |s| Status::from(upstream("library")(s));
        // I2: an update acts on instances in the master's family only.
        if !self.in_family(link.account_id).await? {
            return Ok(Err(result(
                link,
                Failed,
                "the instance's account is no longer in the master's family (I1)".into(),
            )));
        }
        let Some(instance) = self
            .peers
            .klip(link.account_id, link.instance.id)
            .await
            .map_err(library_down)?
        else {
            return Ok(Err(result(
                link,
                Skipped,
                "the instance was deleted in its account".into(),
            )));
        };
        let evaluation = evaluate(link, Some(&self.master.state), Some(instance.version));
        if !evaluation.added.is_empty() {
            let added: Vec<String> = evaluation.added.iter().map(Uuid::to_string).collect();
            return Ok(Err(result(
                link,
                RequiresReimport,
                format!(
                    "the master Klip now uses data source(s) {} that were not imported with this instance (I10); re-import it",
                    added.join(", ")
                ),
            )));
        }
        let mut sources = Vec::new();
        let mut changes = Vec::new();
        if !evaluation.changed.is_empty() {
            let changed: Vec<String> = evaluation.changed.iter().map(Uuid::to_string).collect();
            if !self.request.push_data_sources {
                return Ok(Err(result(
                    link,
                    RequiresReimport,
                    format!(
                        "the master data source(s) {} changed since import (I10); re-import the instance, or update with push_data_sources when the change is compatible",
                        changed.join(", ")
                    ),
                )));
            }
            for master_source in &evaluation.changed {
                match self.source_push(link, *master_source).await? {
                    Ok((push, change)) => {
                        sources.push(push);
                        changes.push(change);
                    }
                    Err(why) => {
                        return Ok(Err(result(
                            link,
                            RequiresReimport,
                            format!(
                                "the change of the master data source {master_source} cannot be pushed: {why} (I10); re-import the instance"
                            ),
                        )));
                    }
                }
            }
        }
        let target = match self.master_definition.mapped(&link.data_sources) {
            Ok(target) => target,
            Err(missing) => {
                let missing: Vec<String> = missing.iter().map(Uuid::to_string).collect();
                return Ok(Err(result(
                    link,
                    RequiresReimport,
                    format!(
                        "the instance has no instance of the data source(s) {} (I10); re-import it",
                        missing.join(", ")
                    ),
                )));
            }
        };
        if target.bindings.iter().any(Option::is_none) {
            return Ok(Err(result(
                link,
                Failed,
                "the master Klip has a binding whose data source was deleted; fix the master first"
                    .into(),
            )));
        }
        let current = KlipDefinition::from_library(&instance);
        changes.splice(
            0..0,
            drift::changes(
                &current,
                &target,
                link.synced_definition.as_ref(),
                evaluation.local_edit,
            ),
        );
        if changes.is_empty()
            && sources.is_empty()
            && !evaluation.master_changed
            && !evaluation.local_edit
        {
            return Ok(Err(result(link, Skipped, "already in sync".into())));
        }
        if self.request.dry_run {
            let mut outcome = result(link, WouldUpdate, String::new());
            outcome.changes = changes.iter().map(Change::to_proto).collect();
            outcome.data_sources_pushed = sources
                .iter()
                .map(|s| s.update.data_source_id.clone())
                .collect();
            return Ok(Err(outcome));
        }
        let klip = library::KlipDefinitionUpdate {
            klip_id: link.instance.id.to_string(),
            account_id: link.account_id.to_string(),
            name: target.name.clone(),
            components: target.to_library_components(),
            bindings: target
                .bindings
                .iter()
                .flatten()
                .map(|id| library::Binding {
                    data_source_id: id.to_string(),
                })
                .collect(),
            // What the drift report was made from must still be what is overwritten.
            etag: instance.etag.clone(),
        };
        Ok(Ok(Pending {
            link: link.clone(),
            klip,
            target,
            sources,
            changes,
        }))
    }

    /// The push of one changed master data source to the instance's, when compatible: the
    /// same auth kind (and, for OAuth, the same token, which the instance's grant is for) and
    /// every template property resolvable in the instance's account.
    async fn source_push(
        &self,
        link: &Link,
        master_source: Uuid,
    ) -> Result<Result<(SourcePush, Change), String>, Status> {
        let library_down = |s| Status::from(upstream("library")(s));
        let Some(master) = self.master.data_sources.get(&master_source) else {
            return Ok(Err("the master data source no longer exists".into()));
        };
        let Some(bound) = link.data_sources.get(&master_source) else {
            return Ok(Err("the instance has no instance of it".into()));
        };
        let Some(instance) = self
            .peers
            .data_source(link.account_id, bound.instance_id)
            .await
            .map_err(library_down)?
        else {
            return Ok(Err("its instance was deleted".into()));
        };
        let auth = |d: &library::DataSource| d.auth.clone().unwrap_or_default();
        let (master_auth, instance_auth) = (auth(master), auth(&instance));
        if master_auth.kind != instance_auth.kind {
            return Ok(Err("its authentication kind changed".into()));
        }
        if let (
            Some(library::data_source_auth::Method::TokenId(a)),
            Some(library::data_source_auth::Method::TokenId(b)),
        ) = (&master_auth.method, &instance_auth.method)
            && a != b
        {
            return Ok(Err("it uses another OAuth token now".into()));
        }
        let needed: Vec<String> = master
            .template_properties
            .iter()
            .filter(|name| !self.variable_defaults.contains_key(*name))
            .cloned()
            .collect();
        if !needed.is_empty() {
            let resolved = self
                .peers
                .resolve_properties(link.account_id, needed)
                .await
                .map_err(library_down)?;
            if !resolved.unresolved.is_empty() {
                return Ok(Err(format!(
                    "{} cannot be resolved in the instance's account",
                    resolved
                        .unresolved
                        .iter()
                        .map(|n| format!("{{props.{n}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let local_edit = self
            .instance_source_link(bound.instance_id)
            .await
            .map_err(store_failure)?
            .is_some_and(|l| instance.version > l.instance_version_synced);
        let url = |d: &library::DataSource| d.request.as_ref().map(|r| r.url.clone());
        let change = Change {
            kind: ChangeKind::DataSource,
            subject: instance.id.clone(),
            instance_value: url(&instance).unwrap_or_default(),
            master_value: url(master).unwrap_or_default(),
            local_edit,
        };
        let update = library::DataSourceDefinitionUpdate {
            data_source_id: instance.id.clone(),
            account_id: link.account_id.to_string(),
            name: master.name.clone(),
            request: master.request.clone(),
            format: master.format,
            refresh_interval: master.refresh_interval,
            rate_limit_key: master.rate_limit_key.clone(),
            etag: instance.etag.clone(),
        };
        Ok(Ok((
            SourcePush {
                master: master.clone(),
                update,
            },
            change,
        )))
    }

    async fn instance_source_link(&self, instance: Uuid) -> Result<Option<Link>, StoreError> {
        let mut conn = store::connect(self.pool).await?;
        links::get(&mut conn, instance).await
    }
}
