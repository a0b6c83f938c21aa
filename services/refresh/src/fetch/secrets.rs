//! Secrets stay where they are meant for: a redirect of a request that carries one goes
//! only to the same destination, and every message kept has them redacted.

/// A redirect of a request that carries a secret may go only where the secret was meant
/// for: the same host and port, and not from https down to http.
pub(super) fn same_destination(first: &url::Url, next: &url::Url) -> Result<(), &'static str> {
    let same_host = first.host_str() == next.host_str();
    let same_origin = same_host
        && first.scheme() == next.scheme()
        && first.port_or_known_default() == next.port_or_known_default();
    let upgrade = same_host
        && (first.scheme(), next.scheme()) == ("http", "https")
        && first.port().is_none()
        && next.port().is_none();
    if same_origin || upgrade {
        Ok(())
    } else if same_host && first.scheme() == "https" {
        Err("a redirect from https to http is not followed with the data source's credentials")
    } else {
        Err("a redirect to another host is not followed with the data source's credentials")
    }
}

/// `message` with every secret replaced.
pub fn redact(message: &str, secrets: &[&str]) -> String {
    let mut message = message.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        message = message.replace(secret, "[redacted]");
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        message = message.replace(&encoded, "[redacted]");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credentialed_redirect_stays_at_its_destination() {
        let url = |text: &str| url::Url::parse(text).unwrap();
        let same = |a: &str, b: &str| same_destination(&url(a), &url(b)).is_ok();
        assert!(same("https://api.example/a", "https://api.example/b"));
        assert!(same("http://api.example/a", "https://api.example/a"));
        assert!(same("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b"));
        assert!(!same("https://api.example/a", "http://api.example/a"));
        assert!(!same("https://api.example/a", "https://evil.example/a"));
        assert!(!same("http://127.0.0.1:8080/a", "http://127.0.0.1:9090/a"));
        assert!(!same("https://api.example/a", "https://api.example.evil/a"));
    }

    #[test]
    fn secrets_are_redacted_plain_and_url_encoded() {
        let message = "GET /data?api_key=s3cr%2Bt failed; s3cr+t";
        assert_eq!(
            redact(message, &["s3cr+t"]),
            "GET /data?api_key=[redacted] failed; [redacted]"
        );
    }
}
