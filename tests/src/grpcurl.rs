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

/// Every `grpcurl` call inside the fenced `sh` blocks between `<!-- walkthrough -->` and
/// `<!-- /walkthrough -->`, with `$NAME` and `${NAME}` replaced through `lookup`. Calls
/// without a method (`list`, `describe`) are skipped: they read, they do not call.
pub fn walkthrough_calls(
    markdown: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<GrpcurlCall>, String> {
    let start = markdown
        .find("<!-- walkthrough -->")
        .ok_or("no <!-- walkthrough --> marker")?;
    let end = markdown[start..]
        .find("<!-- /walkthrough -->")
        .ok_or("no <!-- /walkthrough --> marker")?
        + start;
    let section = &markdown[start..end];

    let mut calls = Vec::new();
    let mut in_code = false;
    let mut pending = String::new();
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let command = std::mem::take(&mut pending);
        let words = shell_words(&command, &lookup)?;
        if words.first().map(String::as_str) != Some("grpcurl") {
            continue;
        }
        if let Some(call) = parse_call(&words, &command)? {
            calls.push(call);
        }
    }
    Ok(calls)
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

    #[test]
    fn reads_calls_with_headers_bodies_and_variables() {
        let markdown = r#"
before
<!-- walkthrough -->
```sh
grpcurl --plaintext 127.0.0.1:50051 list   # skipped: no method
grpcurl --plaintext -H "authorization: Bearer $TOKEN" \
  -d '{"id": "x"}' 127.0.0.1:50051 trellis.library.v1.LibraryService/GetAccount
grpcurl --plaintext -d "{\"id\": \"${ACCOUNT}\"}" 127.0.0.1:50052 a.B/C
```
<!-- /walkthrough -->
"#;
        let calls = walkthrough_calls(markdown, |name| match name {
            "TOKEN" => Some("t0k".into()),
            "ACCOUNT" => Some("acc".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[0].method,
            "trellis.library.v1.LibraryService/GetAccount"
        );
        assert_eq!(
            calls[0].headers,
            [("authorization".into(), "Bearer t0k".into())]
        );
        assert_eq!(calls[0].body, r#"{"id": "x"}"#);
        assert_eq!(calls[1].address, "127.0.0.1:50052");
        assert_eq!(calls[1].body, r#"{"id": "acc"}"#);
    }

    #[test]
    fn an_unknown_variable_is_an_error() {
        let markdown = "<!-- walkthrough -->\n```sh\ngrpcurl -d \"$NOPE\" h:1 a.B/C\n```\n<!-- /walkthrough -->";
        assert!(walkthrough_calls(markdown, |_| None).is_err());
    }
}
