//! Klip definitions: components with formulas parsed at save (DESIGN.md section 8), and
//! bindings `@0…` to data sources of the Klip's account.

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use trellis_platform::error::Violations;
use uuid::Uuid;

use super::names::{
    MAX_DISPLAY_NAME_CHARS, PROPERTY_NAME_RULE, check_display_name, is_property_name,
};

pub const MAX_COMPONENTS: usize = 100;
pub const MAX_BINDINGS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub name: String,
    pub formula: String,
}

/// Everything about a Klip that its owner edits, and that I9 overwrites in instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KlipDefinition {
    pub name: String,
    pub components: Vec<Component>,
    /// `@i` is `bindings[i]`; `None` is a binding left dangling by a forced delete of its
    /// data source.
    pub bindings: Vec<Option<Uuid>>,
}

impl KlipDefinition {
    /// Checks names, parses every formula and checks that every `@i` has a binding.
    /// Returns the variables the formulas use, sorted (I4). Whether the bound data sources
    /// exist in the account is the store's question.
    pub fn check(&self, violations: &mut Violations, prefix: &str) -> Vec<String> {
        check_display_name(violations, &format!("{prefix}.name"), &self.name);
        if self.components.len() > MAX_COMPONENTS {
            violations.add(
                format!("{prefix}.components"),
                format!("at most {MAX_COMPONENTS} components are allowed"),
            );
            return vec![];
        }
        if self.bindings.len() > MAX_BINDINGS {
            violations.add(
                format!("{prefix}.bindings"),
                format!("at most {MAX_BINDINGS} bindings are allowed"),
            );
        }
        let mut variables = BTreeSet::new();
        let mut names = HashSet::new();
        for (i, component) in self.components.iter().enumerate() {
            let field = format!("{prefix}.components[{i}]");
            let label = component_label(i, &component.name);
            if component.name.trim().is_empty() {
                violations.add(format!("{field}.name"), "is required");
            } else if component.name.chars().count() > MAX_DISPLAY_NAME_CHARS {
                violations.add(
                    format!("{field}.name"),
                    format!("must be at most {MAX_DISPLAY_NAME_CHARS} characters"),
                );
            } else if component.name.chars().any(char::is_control) {
                violations.add(
                    format!("{field}.name"),
                    "must not contain control characters",
                );
            } else if !names.insert(component.name.as_str()) {
                violations.add(
                    format!("{field}.name"),
                    format!("{label}: names must be unique within the Klip"),
                );
            }
            if component.formula.contains('\0') {
                violations.add(
                    format!("{field}.formula"),
                    format!("{label}: must not contain NUL characters"),
                );
                continue;
            }
            match trellis_formula::parse(&component.formula) {
                Ok(formula) => {
                    for index in formula.bindings() {
                        if index >= self.bindings.len() {
                            violations.add(
                                format!("{field}.formula"),
                                format!(
                                    "{label}: uses @{index} but the Klip has {} binding(s)",
                                    self.bindings.len()
                                ),
                            );
                        }
                    }
                    for name in formula.variables() {
                        // Variables are named like properties; a longer name could never
                        // resolve.
                        if !is_property_name(&name) {
                            violations.add(
                                format!("{field}.formula"),
                                format!("{label}: ${name}: variable {PROPERTY_NAME_RULE}"),
                            );
                        }
                        variables.insert(name);
                    }
                }
                Err(error) => violations.add(
                    format!("{field}.formula"),
                    format!(
                        "{label}: formula does not parse at line {}, column {}: {}",
                        error.line, error.column, error.message
                    ),
                ),
            }
        }
        variables.into_iter().collect()
    }
}

fn component_label(index: usize, name: &str) -> String {
    if name.is_empty() {
        format!("component {index}")
    } else {
        format!("component {index} ({name:?})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_platform::error::ApiError;

    fn definition(formulas: &[&str], bindings: usize) -> KlipDefinition {
        KlipDefinition {
            name: "Revenue".into(),
            components: formulas
                .iter()
                .enumerate()
                .map(|(i, formula)| Component {
                    name: format!("c{i}"),
                    formula: (*formula).into(),
                })
                .collect(),
            bindings: vec![Some(Uuid::nil()); bindings],
        }
    }

    fn check(definition: &KlipDefinition) -> Result<Vec<String>, Vec<(String, String)>> {
        let mut violations = Violations::new();
        let variables = definition.check(&mut violations, "klip");
        match violations.into_result() {
            Ok(()) => Ok(variables),
            Err(ApiError::InvalidArgument(list)) => {
                Err(list.into_iter().map(|v| (v.field, v.description)).collect())
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn variables_are_derived_from_the_formulas() {
        let variables = check(&definition(
            &["SUM(@0.a) * $rate", "@1.b & $year & $rate"],
            2,
        ));
        assert_eq!(variables.unwrap(), ["rate", "year"]);
    }

    #[test]
    fn a_bad_formula_names_component_line_column_and_reason() {
        let errors = check(&definition(&["1", "2", "SUM(@0.a"], 1)).unwrap_err();
        assert_eq!(errors.len(), 1);
        let (field, description) = &errors[0];
        assert_eq!(field, "klip.components[2].formula");
        assert!(
            description.contains("component 2 (\"c2\")"),
            "{description}"
        );
        assert!(description.contains("line 1, column"), "{description}");
    }

    #[test]
    fn every_binding_used_must_exist() {
        let errors = check(&definition(&["@0.a + @2.b"], 2)).unwrap_err();
        assert_eq!(errors[0].0, "klip.components[0].formula");
        assert!(errors[0].1.contains("@2"));
    }

    #[test]
    fn variable_names_longer_than_any_variable_are_refused() {
        let long = format!("$v{}", "x".repeat(64));
        let errors = check(&definition(&[&long], 0)).unwrap_err();
        assert_eq!(errors[0].0, "klip.components[0].formula");
    }

    #[test]
    fn component_names_are_unique() {
        let mut klip = definition(&["1", "2"], 0);
        klip.components[1].name = "c0".into();
        let errors = check(&klip).unwrap_err();
        assert_eq!(errors[0].0, "klip.components[1].name");
    }
}
