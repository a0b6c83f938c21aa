//! What an import copies (its spec, frozen when planned) and what its steps returned (its
//! progress). Both are stored as JSON on the import; the plan's etag is a hash of the spec.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::asset::{AssetKind, AssetRef};

/// One master asset of an import, as the source had it when the import was planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedAsset {
    pub kind: AssetKind,
    pub id: Uuid,
    pub name: String,
    pub selected: bool,
    pub version: i64,
    #[serde(default)]
    pub fingerprint: String,
    /// A dashboard's Klips, a Klip's data sources.
    #[serde(default)]
    pub dependencies: Vec<AssetRef>,
    #[serde(default)]
    pub credential_id: Option<Uuid>,
    #[serde(default)]
    pub token_id: Option<Uuid>,
    #[serde(default)]
    pub template_properties: Vec<String>,
}

impl PlannedAsset {
    pub fn asset(&self) -> AssetRef {
        AssetRef::new(self.kind, self.id)
    }
}

/// The assets an import copies, dependencies first (data sources, Klips, dashboards), and
/// the variables they use (I3, I4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSpec {
    pub assets: Vec<PlannedAsset>,
    pub variables: Vec<String>,
    /// Re-import in place: master id → the instance id it overwrites (I12).
    #[serde(default)]
    pub reuse_ids: BTreeMap<Uuid, Uuid>,
    /// Re-imports: the instance being replaced.
    #[serde(default)]
    pub replaced: Option<AssetRef>,
}

impl ImportSpec {
    pub fn refs(&self) -> impl Iterator<Item = AssetRef> + '_ {
        self.assets.iter().map(PlannedAsset::asset)
    }

    pub fn get(&self, kind: AssetKind, id: Uuid) -> Option<&PlannedAsset> {
        self.assets.iter().find(|a| a.kind == kind && a.id == id)
    }

    /// Every `{props.NAME}` of the spec's data sources, sorted.
    pub fn template_properties(&self) -> BTreeSet<String> {
        self.assets
            .iter()
            .flat_map(|a| a.template_properties.iter().cloned())
            .collect()
    }

    /// A hash of what the spec lists and of the two accounts: the plan's etag. Any change of
    /// the source's assets (a version, a fingerprint, an added or removed dependency, another
    /// credential or token) changes it (I8).
    pub fn etag(&self, source: Uuid, destination: Uuid) -> String {
        #[derive(Serialize)]
        struct Canonical<'a> {
            v: u8,
            source: Uuid,
            destination: Uuid,
            assets: &'a [PlannedAsset],
            variables: &'a [String],
        }
        let json = serde_json::to_vec(&Canonical {
            v: 1,
            source,
            destination,
            assets: &self.assets,
            variables: &self.variables,
        })
        .expect("plain structs serialize");
        hex::encode(&Sha256::digest(json)[..16])
    }

    /// How `now` differs from `self`, one entry per changed asset, for the
    /// FAILED_PRECONDITION (`SOURCE_CHANGED`) of a stale plan.
    pub fn differences(&self, now: &ImportSpec) -> Vec<Difference> {
        let before: BTreeMap<AssetRef, &PlannedAsset> =
            self.assets.iter().map(|a| (a.asset(), a)).collect();
        let after: BTreeMap<AssetRef, &PlannedAsset> =
            now.assets.iter().map(|a| (a.asset(), a)).collect();
        let mut violations = Vec::new();
        let mut note = |asset: &AssetRef, description: String| {
            violations.push(Difference {
                subject: asset.subject(),
                description,
            });
        };
        for (asset, old) in &before {
            let Some(new) = after.get(asset) else {
                note(
                    asset,
                    format!(
                        "the {} {:?} is no longer part of the import",
                        asset.kind.noun(),
                        old.name
                    ),
                );
                continue;
            };
            let mut changes = Vec::new();
            if old.version != new.version {
                changes.push(format!("version {} → {}", old.version, new.version));
            }
            if old.fingerprint != new.fingerprint {
                changes.push("its request, format or auth changed".to_owned());
            }
            if old.dependencies != new.dependencies {
                changes.push("its dependencies changed".to_owned());
            }
            if old.credential_id != new.credential_id || old.token_id != new.token_id {
                changes.push("it authenticates differently".to_owned());
            }
            if old.name != new.name && changes.is_empty() {
                changes.push(format!("renamed to {:?}", new.name));
            }
            if !changes.is_empty() {
                note(
                    asset,
                    format!(
                        "the {} {:?} changed since the plan was made: {}",
                        asset.kind.noun(),
                        old.name,
                        changes.join(", ")
                    ),
                );
            }
        }
        for (asset, new) in &after {
            if !before.contains_key(asset) {
                note(
                    asset,
                    format!(
                        "the {} {:?} was added to the import since the plan was made",
                        asset.kind.noun(),
                        new.name
                    ),
                );
            }
        }
        if violations.is_empty() && self.variables != now.variables {
            violations.push(Difference {
                subject: "variables".into(),
                description: format!(
                    "the variables used changed: {:?} → {:?}",
                    self.variables, now.variables
                ),
            });
        }
        violations
    }
}

/// What changed in the source since a plan was made: the asset (`klips/<id>`) or
/// `variables`, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub subject: String,
    pub description: String,
}

/// A master and the instance a clone made of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub kind: AssetKind,
    pub source_id: Uuid,
    pub destination_id: Uuid,
}

/// A credential copied for one imported data source (I5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialCopy {
    pub source_credential_id: Uuid,
    pub destination_credential_id: Uuid,
    pub data_source_id: Uuid,
}

/// A token grant made for one imported data source (I6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantMade {
    pub token_id: Uuid,
    pub grant_id: Uuid,
    pub data_source_id: Uuid,
}

/// What the finished steps of an import returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProgress {
    #[serde(default)]
    pub mappings: Vec<Mapping>,
    #[serde(default)]
    pub variables_created: Vec<String>,
    #[serde(default)]
    pub credential_copies: Vec<CredentialCopy>,
    #[serde(default)]
    pub token_grants: Vec<GrantMade>,
    /// Re-import as a new copy: the old instances deleted.
    #[serde(default)]
    pub deleted: Vec<AssetRef>,
}

impl ImportProgress {
    pub fn destination(&self, kind: AssetKind, source: Uuid) -> Option<Uuid> {
        self.mappings
            .iter()
            .find(|m| m.kind == kind && m.source_id == source)
            .map(|m| m.destination_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_source(version: i64, fingerprint: &str) -> PlannedAsset {
        PlannedAsset {
            kind: AssetKind::DataSource,
            id: Uuid::from_u128(1),
            name: "Sales".into(),
            selected: false,
            version,
            fingerprint: fingerprint.into(),
            dependencies: vec![],
            credential_id: None,
            token_id: None,
            template_properties: vec!["companyID".into()],
        }
    }

    fn spec(assets: Vec<PlannedAsset>) -> ImportSpec {
        ImportSpec {
            assets,
            variables: vec!["companyID".into()],
            ..Default::default()
        }
    }

    #[test]
    fn the_etag_follows_versions_fingerprints_and_accounts() {
        let (a, b) = (Uuid::from_u128(10), Uuid::from_u128(11));
        let planned = spec(vec![data_source(1, "f1")]);
        assert_eq!(planned.etag(a, b), planned.etag(a, b));
        assert_ne!(planned.etag(a, b), planned.etag(b, a));
        assert_ne!(
            planned.etag(a, b),
            spec(vec![data_source(2, "f1")]).etag(a, b)
        );
        assert_ne!(
            planned.etag(a, b),
            spec(vec![data_source(1, "f2")]).etag(a, b)
        );
    }

    #[test]
    fn differences_name_each_changed_added_or_removed_asset() {
        let planned = spec(vec![data_source(1, "f1")]);
        assert!(planned.differences(&planned.clone()).is_empty());

        let changed = planned.differences(&spec(vec![data_source(2, "f2")]));
        assert_eq!(changed.len(), 1);
        assert_eq!(
            changed[0].subject,
            format!("data_sources/{}", Uuid::from_u128(1))
        );
        assert!(changed[0].description.contains("version 1 → 2"));

        let mut added = data_source(1, "f1");
        added.id = Uuid::from_u128(2);
        let grown = planned.differences(&spec(vec![data_source(1, "f1"), added]));
        assert_eq!(grown.len(), 1);
        assert!(grown[0].description.contains("was added"));

        let gone = planned.differences(&spec(vec![]));
        assert!(gone[0].description.contains("no longer part"));
    }
}
