//! grpcurl command lines, read out of a Markdown text the way a shell would read them.

/// One grpcurl call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcurlCall {
    /// `host:port`.
    pub address: String,
    /// `package.Service/Method`.
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The line as written, for messages.
    pub line: String,
}

/// One step of a walkthrough, its `$NAME`s not yet expanded: they may name what an earlier
/// step captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `grpcurl …`, or `NAME=$(grpcurl …)` to keep the JSON answer in `NAME`.
    Call {
        capture: Option<String>,
        command: String,
        /// The comment before it says the answer may take a moment (data being fetched):
        /// the call is repeated until it succeeds, within a deadline.
        patient: bool,
    },
    /// `NAME=$(echo "$FROM" | jq -r PATH)` with a path such as `.plan.id` or
    /// `.instances[0].instanceId`.
    Extract {
        name: String,
        from: String,
        path: String,
    },
}

/// The steps of the fenced `sh` blocks between `<!-- walkthrough -->` and
/// `<!-- /walkthrough -->`. `source` lines and grpcurl calls without a method (`list`,
/// `describe`) are left out: they read, they do not call.
pub fn walkthrough_steps(markdown: &str) -> Result<Vec<Step>, String> {
    let start = markdown
        .find("<!-- walkthrough -->")
        .ok_or("no <!-- walkthrough --> marker")?;
    let end = markdown[start..]
        .find("<!-- /walkthrough -->")
        .ok_or("no <!-- /walkthrough --> marker")?
        + start;
    let section = &markdown[start..end];

    let mut steps = Vec::new();
    let mut in_code = false;
    let mut pending = String::new();
    let mut patient = false;
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        if line.trim_start().starts_with('#') {
            patient = line.contains("a moment");
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let command = std::mem::take(&mut pending);
        let command = command.trim();
        if let Some(step) = parse_step(command, patient)? {
            steps.push(step);
        }
        patient = false;
    }
    Ok(steps)
}

fn parse_step(command: &str, patient: bool) -> Result<Option<Step>, String> {
    let (capture, body) = match command.split_once("=$(") {
        Some((name, rest)) if is_name(name) => (
            Some(name.to_owned()),
            rest.strip_suffix(')')
                .ok_or_else(|| format!("unclosed $( in: {command}"))?
                .trim(),
        ),
        _ => (None, command),
    };
    if body.starts_with("grpcurl ") {
        let is_call = shell_words(body, &|_| Some(String::new()))?
            .iter()
            .skip(1)
            .filter(|word| !word.starts_with('-'))
            .count()
            >= 2;
        let reads_only = body
            .split_whitespace()
            .any(|w| w == "list" || w == "describe");
        return Ok((is_call && !reads_only).then(|| Step::Call {
            capture,
            command: body.to_owned(),
            patient,
        }));
    }
    if let (Some(name), Some(rest)) = (capture, body.strip_prefix("echo \"$")) {
        let (from, jq) = rest
            .split_once("\" | jq -r ")
            .ok_or_else(|| format!("expected echo \"$X\" | jq -r PATH: {command}"))?;
        let path = jq.trim().trim_matches('\'');
        return Ok(Some(Step::Extract {
            name,
            from: from.to_owned(),
            path: path.to_owned(),
        }));
    }
    Ok(None)
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads a call's words once its variables can be expanded.
pub fn parse_command(
    command: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<GrpcurlCall, String> {
    let words = shell_words(command, &lookup)?;
    parse_call(&words, command)?.ok_or_else(|| format!("not a call: {command}"))
}

/// Follows a jq path such as `.plan.id` or `.instances[0].instanceId` into `json`.
pub fn jq_path(json: &serde_json::Value, path: &str) -> Option<String> {
    let mut current = json;
    for part in path.trim_start_matches('.').split('.') {
        let (key, index) = match part.split_once('[') {
            Some((key, rest)) => (key, Some(rest.trim_end_matches(']').parse::<usize>().ok()?)),
            None => (part, None),
        };
        if !key.is_empty() {
            current = current.get(key)?;
        }
        if let Some(index) = index {
            current = current.get(index)?;
        }
    }
    Some(match current {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    })
}

fn parse_call(words: &[String], line: &str) -> Result<Option<GrpcurlCall>, String> {
    let mut headers = Vec::new();
    let mut body = String::new();
    let mut positional = Vec::new();
    let mut rest = words[1..].iter();
    while let Some(word) = rest.next() {
        match word.as_str() {
            "-H" | "--H" | "-rpc-header" | "--rpc-header" => {
                let header = rest.next().ok_or("-H needs a value")?;
                let (name, value) = header
                    .split_once(':')
                    .ok_or_else(|| format!("header without a colon: {header}"))?;
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "-d" | "--d" => body = rest.next().ok_or("-d needs a value")?.clone(),
            flag if flag.starts_with('-') => {}
            other => positional.push(other.to_owned()),
        }
    }
    match positional.as_slice() {
        [address, method] if method != "list" && method != "describe" => Ok(Some(GrpcurlCall {
            address: address.clone(),
            method: method.clone(),
            headers,
            body,
            line: line.trim().to_owned(),
        })),
        _ => Ok(None),
    }
}

/// Splits a command line into words: single quotes keep everything, double quotes keep all
/// but `$NAME` (expanded) and `\"`; unquoted `$NAME` is expanded too.
fn shell_words(
    line: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut has_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                has_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                has_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(next) = chars.next() {
                                word.push(next);
                            }
                        }
                        '$' => word.push_str(&expand(&mut chars, lookup)?),
                        other => word.push(other),
                    }
                }
            }
            '$' => {
                has_word = true;
                word.push_str(&expand(&mut chars, lookup)?);
            }
            '#' if !has_word => break,
            c if c.is_whitespace() => {
                if has_word {
                    words.push(std::mem::take(&mut word));
                    has_word = false;
                }
            }
            other => {
                has_word = true;
                word.push(other);
            }
        }
    }
    if has_word {
        words.push(word);
    }
    Ok(words)
}

fn expand(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let braced = chars.peek() == Some(&'{');
    if braced {
        chars.next();
    }
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if braced && chars.next() != Some('}') {
        return Err(format!("unterminated ${{{name}"));
    }
    lookup(&name).ok_or_else(|| format!("${name} is not set by the demo"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKDOWN: &str = r#"
before
<!-- walkthrough -->
```sh
source .demo/env
grpcurl --plaintext 127.0.0.1:50051 list
grpcurl --plaintext -H "authorization: Bearer $TOKEN" \
  -d '{"id": "x"}' 127.0.0.1:50051 trellis.library.v1.LibraryService/GetAccount
PLAN_JSON=$(grpcurl --plaintext -d "{\"id\": \"${ACCOUNT}\"}" 127.0.0.1:50052 a.B/C)
PLAN=$(echo "$PLAN_JSON" | jq -r .plan.id)
# This may take a moment.
grpcurl --plaintext -d "{\"plan\": \"$PLAN\"}" 127.0.0.1:50052 a.B/D
```
<!-- /walkthrough -->
"#;

    #[test]
    fn reads_calls_captures_and_extractions_in_order() {
        let steps = walkthrough_steps(MARKDOWN).unwrap();
        assert_eq!(steps.len(), 4, "{steps:?}");
        assert!(matches!(
            &steps[0],
            Step::Call {
                capture: None,
                patient: false,
                ..
            }
        ));
        assert!(matches!(&steps[1], Step::Call { capture: Some(name), .. } if name == "PLAN_JSON"));
        assert_eq!(
            steps[2],
            Step::Extract {
                name: "PLAN".into(),
                from: "PLAN_JSON".into(),
                path: ".plan.id".into()
            }
        );
        assert!(matches!(&steps[3], Step::Call { patient: true, .. }));

        let Step::Call { command, .. } = &steps[0] else {
            unreachable!()
        };
        let call = parse_command(command, |name| (name == "TOKEN").then(|| "t0k".into())).unwrap();
        assert_eq!(call.method, "trellis.library.v1.LibraryService/GetAccount");
        assert_eq!(
            call.headers,
            [("authorization".into(), "Bearer t0k".into())]
        );
        assert_eq!(call.body, r#"{"id": "x"}"#);
        let Step::Call { command, .. } = &steps[1] else {
            unreachable!()
        };
        let call = parse_command(command, |_| Some("acc".into())).unwrap();
        assert_eq!(call.address, "127.0.0.1:50052");
        assert_eq!(call.body, r#"{"id": "acc"}"#);
    }

    #[test]
    fn an_unknown_variable_is_an_error() {
        assert!(parse_command("grpcurl -d \"$NOPE\" h:1 a.B/C", |_| None).is_err());
    }

    #[test]
    fn jq_paths_reach_nested_fields_and_list_items() {
        let json = serde_json::json!({"plan": {"id": "p1"}, "items": [{"n": 1}, {"n": 2}]});
        assert_eq!(jq_path(&json, ".plan.id").as_deref(), Some("p1"));
        assert_eq!(jq_path(&json, ".items[1].n").as_deref(), Some("2"));
        assert_eq!(jq_path(&json, ".missing"), None);
    }
}
