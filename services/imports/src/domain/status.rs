//! Instance status (I9–I11): how an instance relates to its master now, from the link and
//! what the library holds today.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::asset::{AssetKind, AssetRef};
use super::link::Link;

/// The master as it is now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MasterState {
    pub version: i64,
    /// Data sources: the current fingerprint.
    pub fingerprint: String,
    /// Klips: the data sources the master binds now, in binding order.
    pub bound: Vec<Uuid>,
    /// Klips: the current fingerprint of each data source in `bound`.
    pub source_fingerprints: BTreeMap<Uuid, String>,
}

/// In the order of precedence of `InstanceStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    RequiresReimport,
    Drift,
    Outdated,
    InSync,
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonKind {
    MasterChanged,
    LocalEdit,
    DataSourceChanged,
    DataSourceAdded,
    InstanceDeleted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub kind: ReasonKind,
    pub message: String,
    pub subject: Option<AssetRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub status: Status,
    pub reasons: Vec<Reason>,
    /// Klips: master data sources bound now that the instance has no instance of (I10).
    pub added: Vec<Uuid>,
    /// Klips and data sources: master data sources whose fingerprint changed since the sync.
    pub changed: Vec<Uuid>,
    pub master_changed: bool,
    pub local_edit: bool,
}

impl Evaluation {
    pub fn reasons_text(&self) -> String {
        self.reasons
            .iter()
            .map(|r| r.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The status of `link`'s instance, given the master (`None`: deleted) and the instance's
/// current version (`None`: deleted in its account).
pub fn evaluate(link: &Link, master: Option<&MasterState>, instance: Option<i64>) -> Evaluation {
    let mut evaluation = Evaluation {
        status: Status::InSync,
        reasons: Vec::new(),
        added: Vec::new(),
        changed: Vec::new(),
        master_changed: false,
        local_edit: false,
    };
    let noun = link.kind().noun();
    let Some(instance_version) = instance else {
        evaluation.status = Status::Missing;
        evaluation.reason(
            ReasonKind::InstanceDeleted,
            format!("the instance {noun} was deleted in its account"),
            Some(link.instance),
        );
        return evaluation;
    };
    match master {
        None => {
            evaluation.master_changed = true;
            evaluation.reason(
                ReasonKind::MasterChanged,
                format!("the master {noun} was deleted"),
                Some(link.master()),
            );
        }
        Some(master) => {
            evaluation.data_sources(link, master);
            if master.version > link.master_version_synced {
                evaluation.master_changed = true;
                evaluation.reason(
                    ReasonKind::MasterChanged,
                    format!(
                        "the master {noun} changed since the last sync (version {} → {})",
                        link.master_version_synced, master.version
                    ),
                    Some(link.master()),
                );
            }
        }
    }
    if instance_version > link.instance_version_synced {
        evaluation.local_edit = true;
        evaluation.reason(
            ReasonKind::LocalEdit,
            format!(
                "the instance {noun} was edited in its account since the last sync (version {} → {instance_version})",
                link.instance_version_synced
            ),
            Some(link.instance),
        );
    }
    evaluation.status = if !evaluation.added.is_empty() || !evaluation.changed.is_empty() {
        Status::RequiresReimport
    } else if evaluation.local_edit {
        Status::Drift
    } else if evaluation.master_changed {
        Status::Outdated
    } else {
        Status::InSync
    };
    evaluation
}

impl Evaluation {
    fn reason(&mut self, kind: ReasonKind, message: String, subject: Option<AssetRef>) {
        self.reasons.push(Reason {
            kind,
            message,
            subject,
        });
    }

    /// I10: a Klip's master binding data sources the instance was not given or whose
    /// fingerprint changed; a data source's master changed.
    fn data_sources(&mut self, link: &Link, master: &MasterState) {
        match link.kind() {
            AssetKind::Klip => {
                for source in &master.bound {
                    let subject = Some(AssetRef::new(AssetKind::DataSource, *source));
                    match link.data_sources.get(source) {
                        None => {
                            self.added.push(*source);
                            self.reason(
                                ReasonKind::DataSourceAdded,
                                format!(
                                    "the master Klip now uses the data source {source}, which was not imported (I10)"
                                ),
                                subject,
                            );
                        }
                        Some(bound)
                            if master
                                .source_fingerprints
                                .get(source)
                                .is_some_and(|now| *now != bound.fingerprint) =>
                        {
                            self.changed.push(*source);
                            self.reason(
                                ReasonKind::DataSourceChanged,
                                format!(
                                    "the master data source {source} changed since import (I10)"
                                ),
                                subject,
                            );
                        }
                        Some(_) => {}
                    }
                }
            }
            AssetKind::DataSource if master.fingerprint != link.master_fingerprint => {
                self.changed.push(link.master_id);
                self.reason(
                    ReasonKind::DataSourceChanged,
                    "the master data source's request, format or auth changed since import (I10)"
                        .into(),
                    Some(link.master()),
                );
            }
            AssetKind::DataSource | AssetKind::Dashboard => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::link::BoundSource;

    fn klip_link(source: Uuid) -> Link {
        Link {
            instance: AssetRef::new(AssetKind::Klip, Uuid::now_v7()),
            account_id: Uuid::now_v7(),
            master_id: Uuid::now_v7(),
            master_account_id: Uuid::now_v7(),
            import_id: Uuid::now_v7(),
            import_time: chrono::Utc::now(),
            master_version_at_import: 3,
            master_version_synced: 3,
            master_fingerprint: String::new(),
            instance_version_synced: 1,
            data_sources: [(
                source,
                BoundSource {
                    instance_id: Uuid::now_v7(),
                    fingerprint: "f1".into(),
                },
            )]
            .into(),
            klips: Default::default(),
            synced_definition: None,
            token_grant_id: None,
            credential_copy_id: None,
            last_update_time: None,
        }
    }

    fn master(version: i64, bound: &[(Uuid, &str)]) -> MasterState {
        MasterState {
            version,
            fingerprint: String::new(),
            bound: bound.iter().map(|(id, _)| *id).collect(),
            source_fingerprints: bound.iter().map(|(id, f)| (*id, (*f).to_owned())).collect(),
        }
    }

    #[test]
    fn statuses_follow_versions_and_fingerprints() {
        let source = Uuid::now_v7();
        let link = klip_link(source);
        let same = master(3, &[(source, "f1")]);
        assert_eq!(evaluate(&link, Some(&same), Some(1)).status, Status::InSync);
        assert_eq!(
            evaluate(&link, Some(&master(4, &[(source, "f1")])), Some(1)).status,
            Status::Outdated
        );
        let drifted = evaluate(&link, Some(&master(4, &[(source, "f1")])), Some(2));
        assert_eq!(drifted.status, Status::Drift);
        assert_eq!(drifted.reasons.len(), 2, "both reasons are listed");
        assert_eq!(evaluate(&link, Some(&same), None).status, Status::Missing);
    }

    #[test]
    fn a_changed_or_added_data_source_requires_reimport() {
        let source = Uuid::now_v7();
        let link = klip_link(source);
        let changed = evaluate(&link, Some(&master(3, &[(source, "f2")])), Some(1));
        assert_eq!(changed.status, Status::RequiresReimport);
        assert_eq!(changed.changed, [source]);

        let added_source = Uuid::now_v7();
        let added = evaluate(
            &link,
            Some(&master(4, &[(source, "f1"), (added_source, "g")])),
            Some(2),
        );
        assert_eq!(added.status, Status::RequiresReimport);
        assert_eq!(added.added, [added_source]);
        assert!(added.local_edit && added.master_changed);
    }
}
