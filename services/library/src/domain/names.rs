//! Names: of company properties and variables (the `NAME` of `{props.NAME}`), and the display
//! names of accounts and assets.

use trellis_platform::error::Violations;

/// Longest property or variable name.
pub const MAX_PROPERTY_NAME_CHARS: usize = 64;
/// Longest display name of an account or asset.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// Letters, digits and `_`, starting with a letter or `_`, at most 64 characters: the
/// syntax `{props.NAME}` and formulas' `$NAME` accept.
pub fn is_property_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() || first == '_' => {}
        _ => return false,
    }
    name.len() <= MAX_PROPERTY_NAME_CHARS && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub const PROPERTY_NAME_RULE: &str =
    "must be letters, digits and `_`, start with a letter or `_`, and be at most 64 characters";

pub fn check_property_name(violations: &mut Violations, field: &str, name: &str) {
    if name.is_empty() {
        violations.add(field, "is required");
    } else if !is_property_name(name) {
        violations.add(field, PROPERTY_NAME_RULE);
    }
}

/// A display name: 1 to 200 characters, no control characters.
pub fn check_display_name(violations: &mut Violations, field: &str, name: &str) {
    if name.trim().is_empty() {
        violations.add(field, "is required");
    } else if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        violations.add(
            field,
            format!("must be at most {MAX_DISPLAY_NAME_CHARS} characters"),
        );
    } else if name.chars().any(char::is_control) {
        violations.add(field, "must not contain control characters");
    }
}

/// A free-text value (property value, variable default) of at most `max_bytes`.
pub fn check_value(violations: &mut Violations, field: &str, value: &str, max_bytes: usize) {
    if value.len() > max_bytes {
        violations.add(field, format!("must be at most {max_bytes} bytes"));
    } else {
        check_text(violations, field, value);
    }
}

/// Any stored text: PostgreSQL text and JSON hold no NUL character.
pub fn check_text(violations: &mut Violations, field: &str, value: &str) {
    if value.contains('\0') {
        violations.add(field, "must not contain NUL characters");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_names_follow_the_template_syntax() {
        for good in ["companyID", "_x", "a1_b2", &"a".repeat(64)] {
            assert!(is_property_name(good), "{good}");
        }
        for bad in ["", "1a", "a-b", "a.b", "é", "a b", &"a".repeat(65)] {
            assert!(!is_property_name(bad), "{bad}");
        }
    }
}
