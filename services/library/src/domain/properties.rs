//! Property resolution for an account and a user (I13): the account's company property,
//! else the user's variable value, else the variable's default. So in a client account the
//! company property decides and no user input can point an instance at another client's
//! data; in a partner (which has none) a user input chooses.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertySource {
    UserValue,
    CompanyProperty,
    VariableDefault,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedProperty {
    pub name: String,
    pub value: String,
    pub source: PropertySource,
}

/// What one account and user offer, by name.
#[derive(Debug, Clone, Default)]
pub struct PropertySources {
    pub user_values: BTreeMap<String, String>,
    pub company_properties: BTreeMap<String, String>,
    pub variable_defaults: BTreeMap<String, String>,
}

impl PropertySources {
    pub fn resolve(&self, name: &str) -> Option<ResolvedProperty> {
        let found = [
            (&self.company_properties, PropertySource::CompanyProperty),
            (&self.user_values, PropertySource::UserValue),
            (&self.variable_defaults, PropertySource::VariableDefault),
        ]
        .into_iter()
        .find_map(|(values, source)| values.get(name).map(|value| (value, source)))?;
        Some(ResolvedProperty {
            name: name.to_owned(),
            value: found.0.clone(),
            source: found.1,
        })
    }

    /// Every name that resolves, sorted.
    pub fn names(&self) -> BTreeSet<String> {
        self.company_properties
            .keys()
            .chain(self.variable_defaults.keys())
            .chain(self.user_values.keys())
            .cloned()
            .collect()
    }

    /// Resolves `names` in order: the resolved ones, and the names that resolve to nothing.
    pub fn resolve_all<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> (Vec<ResolvedProperty>, Vec<String>) {
        let mut resolved = Vec::new();
        let mut unresolved = Vec::new();
        for name in names {
            match self.resolve(name) {
                Some(property) => resolved.push(property),
                None => unresolved.push(name.to_owned()),
            }
        }
        (resolved, unresolved)
    }

    /// The resolved values of every name, for template substitution.
    pub fn values(&self) -> BTreeMap<String, String> {
        self.names()
            .into_iter()
            .filter_map(|name| self.resolve(&name).map(|p| (name, p.value)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn company_property_beats_user_value_beats_default() {
        let sources = PropertySources {
            user_values: map(&[("a", "user"), ("b", "user")]),
            company_properties: map(&[("b", "company")]),
            variable_defaults: map(&[("a", "default"), ("b", "default"), ("c", "default")]),
        };
        let (resolved, unresolved) = sources.resolve_all(["a", "b", "c", "d"]);
        let got: Vec<_> = resolved
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str(), p.source))
            .collect();
        assert_eq!(
            got,
            [
                ("a", "user", PropertySource::UserValue),
                ("b", "company", PropertySource::CompanyProperty),
                ("c", "default", PropertySource::VariableDefault),
            ]
        );
        assert_eq!(unresolved, ["d"]);
        assert_eq!(sources.values().len(), 3);
    }
}
