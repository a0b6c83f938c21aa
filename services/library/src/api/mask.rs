//! Update masks (AIP-134): which fields an Update writes.

use std::collections::BTreeSet;

use prost_types::FieldMask;
use trellis_platform::error::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    paths: BTreeSet<String>,
}

impl Mask {
    /// The paths of `mask`, each one of the updatable `fields`: `(path, set)`, where `set`
    /// says whether the caller gave the field a non-default value. An empty mask means the
    /// fields the caller set.
    pub fn parse(mask: Option<&FieldMask>, fields: &[(&str, bool)]) -> ApiResult<Self> {
        let allowed: Vec<&str> = fields.iter().map(|(path, _)| *path).collect();
        let paths: Vec<String> = match mask {
            Some(mask) if !mask.paths.is_empty() => mask.paths.clone(),
            _ => fields
                .iter()
                .filter(|(_, set)| *set)
                .map(|(path, _)| (*path).to_owned())
                .collect(),
        };
        for path in &paths {
            if !allowed.contains(&path.as_str()) {
                return Err(ApiError::invalid(
                    "update_mask",
                    format!(
                        "unknown field path `{path}`; updatable: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(Mask {
            paths: paths.into_iter().collect(),
        })
    }

    pub fn has(&self, path: &str) -> bool {
        self.paths.contains(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_paths_are_refused_and_empty_masks_imply_set_fields() {
        let allowed = [("name", false), ("layout", false)];
        let mask = FieldMask {
            paths: vec!["name".into()],
        };
        assert!(Mask::parse(Some(&mask), &allowed).unwrap().has("name"));
        let bad = FieldMask {
            paths: vec!["id".into()],
        };
        assert!(Mask::parse(Some(&bad), &allowed).is_err());
        let implied = Mask::parse(None, &[("name", false), ("layout", true)]).unwrap();
        assert!(implied.has("layout") && !implied.has("name"));
    }
}
