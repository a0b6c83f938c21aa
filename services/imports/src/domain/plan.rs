//! The warnings of an import plan (I8): what the destination cannot resolve (I13), what is
//! copied (I5) or shared (I6), what exists already (I4, I7), what is broken in the source.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::asset::{AssetKind, AssetRef};
use super::spec::{ImportSpec, PlannedAsset};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    UnresolvedProperty,
    CredentialCopied,
    TokenShared,
    FamilyForbidden,
    AlreadyImported,
    VariableExists,
    TokenNeedsReauthorization,
    MissingDependency,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub kind: WarningKind,
    pub message: String,
    pub subject_id: String,
    pub blocking: bool,
}

/// A plan as reviewed (I8): what executing it imports, and what was said about it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: Uuid,
    pub destination_account_id: Uuid,
    pub source_account_id: Uuid,
    pub creator_user_id: String,
    pub selection: Vec<AssetRef>,
    pub spec: ImportSpec,
    pub warnings: Vec<Warning>,
    /// Variables the import will create in the destination (I4).
    pub variables: Vec<String>,
    pub etag: String,
    pub import_id: Option<Uuid>,
    pub create_time: DateTime<Utc>,
    pub expire_time: DateTime<Utc>,
}

/// The state of a master token, as the token service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenHealth {
    Active,
    /// Needs re-authorization or was invalidated by the provider: instances cannot refresh
    /// until the master re-authorizes it, which repairs them all at once (I6).
    NeedsReauthorization(String),
    /// Revoked or deleted: nothing can be granted on it.
    Unusable(String),
}

/// What planning learned about the destination and the tokens.
#[derive(Debug, Clone, Default)]
pub struct PlanContext {
    /// Template properties that resolve to nothing in the destination (no company property,
    /// no variable).
    pub unresolved: BTreeSet<String>,
    /// The destination's variables.
    pub destination_variables: BTreeSet<String>,
    pub tokens: BTreeMap<Uuid, TokenHealth>,
    /// Instances of the masters that exist in the destination already.
    pub existing_instances: BTreeMap<AssetRef, Vec<Uuid>>,
    /// Assets the source references but does not have (a dangling Klip binding has no id).
    pub missing: Vec<(AssetKind, Option<Uuid>)>,
}

/// The plan's warnings, and the variables the import will create in the destination.
pub fn review(spec: &ImportSpec, context: &PlanContext) -> (Vec<Warning>, Vec<String>) {
    let mut warnings = Warnings::default();
    let master_variables: BTreeSet<&String> = spec.variables.iter().collect();
    for asset in &spec.assets {
        warnings.already_imported(asset, context);
        if asset.kind == AssetKind::DataSource {
            warnings.unresolved(asset, context, &master_variables);
            warnings.secrets(asset, context);
        }
    }
    warnings.missing(context);
    let to_create = warnings.variables(spec, context);
    (warnings.0, to_create)
}

/// The warnings of a plan, in the order they are found.
#[derive(Default)]
struct Warnings(Vec<Warning>);

impl Warnings {
    fn warn(&mut self, kind: WarningKind, subject_id: String, message: String, blocking: bool) {
        self.0.push(Warning {
            kind,
            message,
            subject_id,
            blocking,
        });
    }

    /// I7: another copy of what the destination has already.
    fn already_imported(&mut self, asset: &PlannedAsset, context: &PlanContext) {
        if let Some(instances) = context.existing_instances.get(&asset.asset())
            && !instances.is_empty()
        {
            self.warn(
                WarningKind::AlreadyImported,
                asset.id.to_string(),
                format!(
                    "the destination already has {} instance(s) of the {} {:?}; the import makes another copy (I7)",
                    instances.len(),
                    asset.kind.noun(),
                    asset.name
                ),
                false,
            );
        }
    }

    /// I13: a data source's template properties the destination does not resolve.
    fn unresolved(
        &mut self,
        asset: &PlannedAsset,
        context: &PlanContext,
        master_variables: &BTreeSet<&String>,
    ) {
        for name in &asset.template_properties {
            if !context.unresolved.contains(name) {
                continue;
            }
            let message = if master_variables.contains(name) {
                format!(
                    "{{props.{name}}} of the data source {:?} has no company property or variable in the destination; the import creates the variable {name} with the master's default, so the instance fetches with that default until the destination sets its own value (I13)",
                    asset.name
                )
            } else {
                format!(
                    "{{props.{name}}} of the data source {:?} resolves to nothing in the destination; the instance cannot fetch until the destination has a company property or variable {name} (I13)",
                    asset.name
                )
            };
            let subject = asset.id.to_string();
            self.warn(WarningKind::UnresolvedProperty, subject, message, false);
        }
    }

    /// I5, I6: a data source's credential is copied, its token shared (and may be unusable).
    fn secrets(&mut self, asset: &PlannedAsset, context: &PlanContext) {
        if let Some(credential) = asset.credential_id {
            self.warn(
                WarningKind::CredentialCopied,
                credential.to_string(),
                format!(
                    "the saved credential of the data source {:?} is copied into the destination, usable only by the imported data source (I5)",
                    asset.name
                ),
                false,
            );
        }
        let Some(token) = asset.token_id else {
            return;
        };
        self.warn(
            WarningKind::TokenShared,
            token.to_string(),
            format!(
                "the data source {:?} refreshes with the master's OAuth token through a grant; the token is not added to the destination's connected accounts, and re-authorizing or revoking it in the source affects the instance too (I6)",
                asset.name
            ),
            false,
        );
        match context.tokens.get(&token) {
            Some(TokenHealth::NeedsReauthorization(status)) => self.warn(
                WarningKind::TokenNeedsReauthorization,
                token.to_string(),
                format!(
                    "the master's token is {status}: the imported data source cannot refresh until the source account re-authorizes it"
                ),
                false,
            ),
            Some(TokenHealth::Unusable(status)) => self.warn(
                WarningKind::TokenNeedsReauthorization,
                token.to_string(),
                format!(
                    "the master's token is {status}: no grant can be made on it, so the data source {:?} cannot be imported",
                    asset.name
                ),
                true,
            ),
            Some(TokenHealth::Active) | None => {}
        }
    }

    /// What the source references but lacks.
    fn missing(&mut self, context: &PlanContext) {
        for (kind, id) in &context.missing {
            let message = match id {
                Some(id) => format!("the {} {id} is referenced but does not exist", kind.noun()),
                None => format!(
                    "a Klip binds a {} that was deleted; the instance's binding will dangle too",
                    kind.noun()
                ),
            };
            let subject = id.map(|id| id.to_string()).unwrap_or_default();
            self.warn(WarningKind::MissingDependency, subject, message, false);
        }
    }

    /// I4: the variables the destination has already keep their values; the others are
    /// created (answered).
    fn variables(&mut self, spec: &ImportSpec, context: &PlanContext) -> Vec<String> {
        let mut to_create = Vec::new();
        for name in &spec.variables {
            if context.destination_variables.contains(name) {
                self.warn(
                    WarningKind::VariableExists,
                    name.clone(),
                    format!(
                        "the destination already has a variable {name}; its value and default are kept, not the master's (I4)"
                    ),
                    false,
                );
            } else {
                to_create.push(name.clone());
            }
        }
        to_create
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::spec::PlannedAsset;

    fn source(name: &str, properties: &[&str]) -> PlannedAsset {
        PlannedAsset {
            kind: AssetKind::DataSource,
            id: Uuid::now_v7(),
            name: name.into(),
            selected: true,
            version: 1,
            fingerprint: "f".into(),
            dependencies: vec![],
            credential_id: None,
            token_id: None,
            template_properties: properties.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn unresolved_properties_warn_and_say_whether_a_master_variable_fills_in() {
        let spec = ImportSpec {
            assets: vec![source("Sales", &["companyID", "region"])],
            variables: vec!["companyID".into()],
            ..Default::default()
        };
        let context = PlanContext {
            unresolved: ["companyID".to_owned(), "region".to_owned()].into(),
            ..Default::default()
        };
        let (warnings, to_create) = review(&spec, &context);
        let unresolved: Vec<&Warning> = warnings
            .iter()
            .filter(|w| w.kind == WarningKind::UnresolvedProperty)
            .collect();
        assert_eq!(unresolved.len(), 2);
        assert!(unresolved[0].message.contains("master's default"));
        assert!(unresolved[1].message.contains("resolves to nothing"));
        assert!(unresolved.iter().all(|w| !w.blocking));
        assert_eq!(to_create, ["companyID"]);
    }

    #[test]
    fn credentials_and_tokens_warn_and_an_unusable_token_blocks() {
        let mut with_credential = source("Basic", &[]);
        with_credential.credential_id = Some(Uuid::now_v7());
        let mut with_token = source("GA", &[]);
        let token = Uuid::now_v7();
        with_token.token_id = Some(token);
        let spec = ImportSpec {
            assets: vec![with_credential, with_token],
            variables: vec!["x".into()],
            ..Default::default()
        };
        let mut context = PlanContext {
            destination_variables: ["x".to_owned()].into(),
            ..Default::default()
        };
        let (warnings, to_create) = review(&spec, &context);
        let kinds: Vec<WarningKind> = warnings.iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds,
            [
                WarningKind::CredentialCopied,
                WarningKind::TokenShared,
                WarningKind::VariableExists
            ]
        );
        assert!(to_create.is_empty());

        context
            .tokens
            .insert(token, TokenHealth::Unusable("revoked".into()));
        let (warnings, _) = review(&spec, &context);
        assert!(
            warnings
                .iter()
                .any(|w| w.kind == WarningKind::TokenNeedsReauthorization && w.blocking)
        );
    }
}
