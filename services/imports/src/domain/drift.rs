//! The drift report (DESIGN.md section 5): what applying the master's definition to an
//! instance Klip overwrites, and which of it were local edits.

use super::link::KlipDefinition;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Name,
    ComponentAdded,
    ComponentRemoved,
    Formula,
    Bindings,
    DataSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub subject: String,
    pub instance_value: String,
    pub master_value: String,
    pub local_edit: bool,
}

fn bindings_text(definition: &KlipDefinition) -> String {
    definition
        .bindings
        .iter()
        .map(|b| b.map(|id| id.to_string()).unwrap_or_else(|| "-".into()))
        .collect::<Vec<_>>()
        .join(",")
}

/// What turning `instance` into `target` changes. `synced` is what the instance was given at
/// its last sync: a value that differs from it was edited locally (drift). Without it every
/// difference counts as local when `drifted`.
pub fn changes(
    instance: &KlipDefinition,
    target: &KlipDefinition,
    synced: Option<&KlipDefinition>,
    drifted: bool,
) -> Vec<Change> {
    let edited = |now: Option<&str>, then: Option<Option<&str>>| match then {
        Some(then) => now != then,
        None => drifted,
    };
    let mut changes = Vec::new();
    if instance.name != target.name {
        changes.push(Change {
            kind: ChangeKind::Name,
            subject: String::new(),
            instance_value: instance.name.clone(),
            master_value: target.name.clone(),
            local_edit: edited(Some(&instance.name), synced.map(|s| Some(s.name.as_str()))),
        });
    }
    let formula_in = |definition: &KlipDefinition, name: &str| -> Option<String> {
        definition
            .components
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.formula.clone())
    };
    for component in &instance.components {
        let was = synced.map(|s| formula_in(s, &component.name));
        match formula_in(target, &component.name) {
            None => changes.push(Change {
                kind: ChangeKind::ComponentRemoved,
                subject: component.name.clone(),
                instance_value: component.formula.clone(),
                master_value: String::new(),
                local_edit: edited(Some(&component.formula), was.as_ref().map(|w| w.as_deref())),
            }),
            Some(formula) if formula != component.formula => changes.push(Change {
                kind: ChangeKind::Formula,
                subject: component.name.clone(),
                instance_value: component.formula.clone(),
                master_value: formula,
                local_edit: edited(Some(&component.formula), was.as_ref().map(|w| w.as_deref())),
            }),
            Some(_) => {}
        }
    }
    for component in &target.components {
        if formula_in(instance, &component.name).is_none() {
            let was = synced.map(|s| formula_in(s, &component.name));
            changes.push(Change {
                kind: ChangeKind::ComponentAdded,
                subject: component.name.clone(),
                instance_value: String::new(),
                master_value: component.formula.clone(),
                // The instance lost a component it was given: removed locally.
                local_edit: edited(None, was.as_ref().map(|w| w.as_deref())),
            });
        }
    }
    if instance.bindings != target.bindings {
        changes.push(Change {
            kind: ChangeKind::Bindings,
            subject: String::new(),
            instance_value: bindings_text(instance),
            master_value: bindings_text(target),
            local_edit: match synced {
                Some(s) => s.bindings != instance.bindings,
                None => drifted,
            },
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::link::Component;

    fn klip(name: &str, components: &[(&str, &str)]) -> KlipDefinition {
        KlipDefinition {
            name: name.into(),
            components: components
                .iter()
                .map(|(n, f)| Component {
                    name: (*n).into(),
                    formula: (*f).into(),
                })
                .collect(),
            bindings: vec![],
        }
    }

    #[test]
    fn local_edits_are_told_from_master_changes() {
        let synced = klip(
            "Revenue",
            &[("total", "SUM(@0.a)"), ("avg", "AVERAGE(@0.a)")],
        );
        // The client edited `avg` and added `mine`; the master changed `total`.
        let instance = klip(
            "Revenue",
            &[("total", "SUM(@0.a)"), ("avg", "MAX(@0.a)"), ("mine", "1")],
        );
        let target = klip(
            "Revenue",
            &[("total", "SUM(@0.b)"), ("avg", "AVERAGE(@0.a)")],
        );
        let found = changes(&instance, &target, Some(&synced), true);
        let by_subject = |s: &str| found.iter().find(|c| c.subject == s).unwrap().clone();
        assert_eq!(by_subject("total").kind, ChangeKind::Formula);
        assert!(!by_subject("total").local_edit);
        assert_eq!(by_subject("avg").instance_value, "MAX(@0.a)");
        assert!(by_subject("avg").local_edit);
        assert_eq!(by_subject("mine").kind, ChangeKind::ComponentRemoved);
        assert!(by_subject("mine").local_edit);
        assert_eq!(found.len(), 3);
    }
}
