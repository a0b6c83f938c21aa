//! Placeholders filled at fetch time: `{token.NAME}` from the OAuth token's parameters, and
//! the `{name}`s of a login body or a string to sign. Every template is filled in one pass,
//! so a value that itself holds braces is never filled again.

use std::borrow::Cow;

use super::HttpRequest;
use super::credentials::OAuthToken;

/// `template` with every `{name}` that `value` knows replaced; any other brace is kept.
pub fn render(template: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(['}', '{']) {
            Some(close) if after.as_bytes()[close] == b'}' => {
                let name = &after[..close];
                match value(name) {
                    Some(filled) => out.push_str(&filled),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The names of the `{token.NAME}` placeholders in `text`.
fn token_names(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{token.") {
        let after = &rest[start + "{token.".len()..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            names.push(name);
        }
        rest = &after[end..];
    }
    names
}

/// `request` with `{token.NAME}` filled from the parameters of `token` (the values as they
/// are, so that `{token.instance_url}/services/data` is a URL). Without a token nothing is
/// filled (the library leaves them only in requests that authenticate with one). A name
/// the token lacks is an error naming it.
pub fn fill_token_parameters<'r>(
    request: &'r HttpRequest,
    token: Option<&OAuthToken>,
) -> Result<Cow<'r, HttpRequest>, String> {
    let Some(token) = token else {
        return Ok(Cow::Borrowed(request));
    };
    let texts = std::iter::once(request.url.as_str())
        .chain(request.headers.iter().map(|(_, value)| value.as_str()))
        .chain(std::iter::once(request.body.as_str()));
    let mut missing: Vec<&str> = Vec::new();
    let mut any = false;
    for text in texts {
        for name in token_names(text) {
            any = true;
            if !token.parameters.contains_key(name) && !missing.contains(&name) {
                missing.push(name);
            }
        }
    }
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|n| format!("`{{token.{n}}}`")).collect();
        return Err(format!(
            "the OAuth token has no parameter {} that the request uses; the provider must list it in its token parameters and the token must be authorized again",
            names.join(", ")
        ));
    }
    if !any {
        return Ok(Cow::Borrowed(request));
    }
    let fill = |text: &str| {
        render(text, |name| {
            name.strip_prefix("token.")
                .and_then(|name| token.parameters.get(name).cloned())
        })
    };
    Ok(Cow::Owned(HttpRequest {
        method: request.method.clone(),
        url: fill(&request.url),
        headers: request
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), fill(value)))
            .collect(),
        body: fill(&request.body),
        format: request.format,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::job::DataFormat;

    #[test]
    fn render_fills_known_names_once_and_keeps_other_braces() {
        let filled = render("{a}-{b}-{}-{a{a}}-{", |name| match name {
            "a" => Some("{b}".to_owned()),
            _ => None,
        });
        assert_eq!(filled, "{b}-{b}-{}-{a{b}}-{");
        assert_eq!(render("", |_| None), "");
        assert_eq!(render("é{x}ü", |_| Some("ß".into())), "éßü");
    }

    fn request(url: &str, body: &str) -> HttpRequest {
        HttpRequest {
            method: reqwest::Method::POST,
            url: url.into(),
            headers: vec![("X-Org".into(), "{token.org_id}".into())],
            body: body.into(),
            format: DataFormat::Json,
        }
    }

    #[test]
    fn token_parameters_fill_url_headers_and_body() {
        let token = OAuthToken {
            access_token: "t".into(),
            parameters: BTreeMap::from([
                ("instance_url".to_owned(), "https://na1.example".to_owned()),
                ("org_id".to_owned(), "00D".to_owned()),
            ]),
        };
        let template = request(
            "{token.instance_url}/services/data?q={props.x}",
            r#"{"org": "{token.org_id}"}"#,
        );
        let filled = fill_token_parameters(&template, Some(&token)).unwrap();
        assert_eq!(filled.url, "https://na1.example/services/data?q={props.x}");
        assert_eq!(filled.headers[0].1, "00D");
        assert_eq!(filled.body, r#"{"org": "00D"}"#);
        // No token (another kind of auth): nothing is filled.
        let untouched = fill_token_parameters(&template, None).unwrap();
        assert_eq!(untouched.url, template.url);
    }

    #[test]
    fn a_name_the_token_lacks_is_named() {
        let token = OAuthToken::from("t");
        let error = fill_token_parameters(&request("{token.instance_url}/x", ""), Some(&token))
            .unwrap_err();
        assert!(error.contains("`{token.instance_url}`"), "{error}");
        assert!(error.contains("`{token.org_id}`"), "{error}");
    }
}
