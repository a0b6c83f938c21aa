//! Deciding, per instance, what an update does (I9, I10) and whether a data-source change
//! can be pushed.

use tonic::Status;
use trellis_platform::error::StoreError;
use trellis_platform::peer::upstream;
use trellis_proto::imports::v1 as pb;
use trellis_proto::imports::v1::UpdateOutcome::{Failed, RequiresReimport, Skipped, WouldUpdate};
use trellis_proto::library::v1 as library;
use uuid::Uuid;

use super::{Context, Pending, SourcePush, reported, result, store_failure};
use crate::domain::drift::{self, Change, ChangeKind};
use crate::domain::family::same_family;
use crate::domain::link::{KlipDefinition, Link};
use crate::domain::status::{Evaluation, evaluate};
use crate::peers::convert;
use crate::store::links;

/// `Ok(Ok)` to go on, `Ok(Err)` with the instance's final result, `Err` when a call failed.
type Decided<T> = Result<Result<T, pb::InstanceUpdateResult>, Status>;

/// Either the push, or why it cannot be made.
type Push = Result<(SourcePush, Change), String>;

fn library_down(status: Status) -> Status {
    upstream("library")(status).into()
}

/// Data source ids, for a message.
fn listed(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Context<'_> {
    pub(super) async fn in_family(&mut self, account: Uuid) -> Result<bool, Status> {
        if let Some(known) = self.families.get(&account) {
            return Ok(*known);
        }
        let found = self.peers.account(account).await.map_err(library_down)?;
        let inside = found.is_some_and(|a| {
            same_family(
                &convert::account(&self.master_account),
                &convert::account(&a),
            )
        });
        self.families.insert(account, inside);
        Ok(inside)
    }

    /// What to do with one instance: `Ok` to apply, `Err` with a final result.
    pub(super) async fn prepare(&mut self, link: &Link) -> Decided<Pending> {
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
        let (sources, mut changes) = match self.source_pushes(link, &evaluation).await? {
            Ok(pushes) => pushes,
            Err(refused) => return Ok(Err(refused)),
        };
        let target = match self.target(link) {
            Ok(target) => target,
            Err(refused) => return Ok(Err(refused)),
        };
        let current = convert::klip_definition(&instance);
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
            return Ok(Err(reported(link, WouldUpdate, &changes, &sources)));
        }
        Ok(Ok(Pending {
            link: link.clone(),
            klip: klip_update(link, &target, &instance),
            target,
            sources,
            changes,
        }))
    }

    /// I10: an instance whose master binds a data source it was not given requires
    /// re-import; one whose master data sources changed does too, unless each change can
    /// be pushed (and the caller asked for it). The pushes and their changes otherwise.
    async fn source_pushes(
        &self,
        link: &Link,
        evaluation: &Evaluation,
    ) -> Decided<(Vec<SourcePush>, Vec<Change>)> {
        if !evaluation.added.is_empty() {
            return Ok(Err(result(
                link,
                RequiresReimport,
                format!(
                    "the master Klip now uses data source(s) {} that were not imported with this instance (I10); re-import it",
                    listed(&evaluation.added)
                ),
            )));
        }
        let (mut sources, mut changes) = (Vec::new(), Vec::new());
        if evaluation.changed.is_empty() {
            return Ok(Ok((sources, changes)));
        }
        if !self.request.push_data_sources {
            return Ok(Err(result(
                link,
                RequiresReimport,
                format!(
                    "the master data source(s) {} changed since import (I10); re-import the instance, or update with push_data_sources when the change is compatible",
                    listed(&evaluation.changed)
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
        Ok(Ok((sources, changes)))
    }

    /// The master's definition with its bindings rewritten to the instance's data sources
    /// (I9), or why it cannot be.
    fn target(&self, link: &Link) -> Result<KlipDefinition, pb::InstanceUpdateResult> {
        let target = self
            .master_definition
            .mapped(&link.data_sources)
            .map_err(|missing| {
                result(
                    link,
                    RequiresReimport,
                    format!(
                        "the instance has no instance of the data source(s) {} (I10); re-import it",
                        listed(&missing)
                    ),
                )
            })?;
        if target.bindings.iter().any(Option::is_none) {
            return Err(result(
                link,
                Failed,
                "the master Klip has a binding whose data source was deleted; fix the master first"
                    .into(),
            ));
        }
        Ok(target)
    }

    /// The push of one changed master data source to the instance's, when compatible: the
    /// same auth kind (and, for OAuth, the same token, which the instance's grant is for) and
    /// every template property resolvable in the instance's account.
    async fn source_push(&self, link: &Link, master_source: Uuid) -> Result<Push, Status> {
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
        if let Some(why) = incompatible(master, &instance) {
            return Ok(Err(why));
        }
        if let Some(why) = self.unresolved(link, master).await? {
            return Ok(Err(why));
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
        let push = SourcePush {
            master: master.clone(),
            update: source_update(link, master, &instance),
        };
        Ok(Ok((push, change)))
    }

    /// The master's template properties the instance's account cannot resolve, said.
    async fn unresolved(
        &self,
        link: &Link,
        master: &library::DataSource,
    ) -> Result<Option<String>, Status> {
        let needed: Vec<String> = master
            .template_properties
            .iter()
            .filter(|name| !self.variable_defaults.contains_key(*name))
            .cloned()
            .collect();
        if needed.is_empty() {
            return Ok(None);
        }
        let resolved = self
            .peers
            .resolve_properties(link.account_id, needed)
            .await
            .map_err(library_down)?;
        if resolved.unresolved.is_empty() {
            return Ok(None);
        }
        let names: Vec<String> = resolved
            .unresolved
            .iter()
            .map(|n| format!("{{props.{n}}}"))
            .collect();
        Ok(Some(format!(
            "{} cannot be resolved in the instance's account",
            names.join(", ")
        )))
    }

    async fn instance_source_link(&self, instance: Uuid) -> Result<Option<Link>, StoreError> {
        let mut conn = trellis_platform::db::connect(self.pool).await?;
        links::get(&mut conn, instance).await
    }
}

/// Why the master's definition cannot go to the instance as it is: another auth kind, or
/// another OAuth token than the one the instance's grant is for.
fn incompatible(master: &library::DataSource, instance: &library::DataSource) -> Option<String> {
    use library::data_source_auth::Method::TokenId;
    let auth = |d: &library::DataSource| d.auth.clone().unwrap_or_default();
    let (master_auth, instance_auth) = (auth(master), auth(instance));
    if master_auth.kind != instance_auth.kind {
        return Some("its authentication kind changed".into());
    }
    match (&master_auth.method, &instance_auth.method) {
        (Some(TokenId(a)), Some(TokenId(b))) if a != b => {
            Some("it uses another OAuth token now".into())
        }
        _ => None,
    }
}

/// The master's definition for the instance data source, on the instance's etag.
fn source_update(
    link: &Link,
    master: &library::DataSource,
    instance: &library::DataSource,
) -> library::DataSourceDefinitionUpdate {
    library::DataSourceDefinitionUpdate {
        data_source_id: instance.id.clone(),
        account_id: link.account_id.to_string(),
        name: master.name.clone(),
        request: master.request.clone(),
        format: master.format,
        refresh_interval: master.refresh_interval,
        rate_limit_key: master.rate_limit_key.clone(),
        etag: instance.etag.clone(),
        pagination: master.pagination.clone(),
        date_range: master.date_range.clone(),
        rate_limit_key_limit: master.rate_limit_key_limit.clone(),
    }
}

/// The library's update of the instance Klip to `target`.
fn klip_update(
    link: &Link,
    target: &KlipDefinition,
    instance: &library::Klip,
) -> library::KlipDefinitionUpdate {
    library::KlipDefinitionUpdate {
        klip_id: link.instance.id.to_string(),
        account_id: link.account_id.to_string(),
        name: target.name.clone(),
        components: convert::library_components(target),
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
    }
}
