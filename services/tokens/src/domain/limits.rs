//! The length and character rules of every text a caller sends (docs/tokens.md, "Limits").
//! Text goes through `trellis_platform::validate`, so a NUL byte or a control character is
//! an INVALID_ARGUMENT naming the field, never a database error.

use std::time::Duration;

use trellis_platform::error::Violations;
use trellis_platform::validate;

/// Names: of providers, tokens and credentials.
pub const MAX_NAME_CHARS: usize = 200;
/// Provider endpoints and redirect URIs.
pub const MAX_URL_CHARS: usize = 2048;
/// OAuth client ids, usernames, API key names, rate-limit keys.
pub const MAX_ID_CHARS: usize = 512;
/// Client secrets, passwords, API keys.
pub const MAX_SECRET_CHARS: usize = 4096;
/// The scopes a provider asks for, and each one's length.
pub const MAX_SCOPES: usize = 100;
pub const MAX_SCOPE_CHARS: usize = 256;
/// Extra parameters of a provider's authorization URL, and their names' and values' lengths.
pub const MAX_AUTHORIZATION_PARAMETERS: usize = 50;
pub const MAX_PARAMETER_NAME_CHARS: usize = 100;
pub const MAX_PARAMETER_VALUE_CHARS: usize = 1024;
/// The `state`, `code` and `error` of an authorization's redirect.
pub const MAX_REDIRECT_PARAMETER_CHARS: usize = 4096;
/// The longest period of an API limit.
pub const MAX_LIMIT_PERIOD: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// What is wrong with `value` as one line of text, if anything.
pub fn line_problem(value: &str, max_chars: usize) -> Option<String> {
    validate::text_problem(value, max_chars).or_else(|| {
        value
            .contains(['\n', '\r'])
            .then(|| "must be on one line".to_owned())
    })
}

pub fn check_name(violations: &mut Violations, field: &str, value: &str) {
    if value.trim().is_empty() {
        violations.add(field, "required");
    } else {
        validate::single_line(violations, field, value, MAX_NAME_CHARS);
    }
}
