//! Checking a signed request as an API does: the signature recomputed from the request it
//! received (method, path, query less the signature, body, the timestamp and key id where
//! the scheme sends them) with the shared secret, written out on its own here rather than
//! by the client's code, so a test shows that both sides agree on the canonical string.

use axum::http::{HeaderMap, Method, Uri};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use trellis_proto::tokens::v1::{
    SignatureEncoding, SigningAlgorithm, SigningScheme, TimestampFormat,
};

/// What a signed request must carry: a signature by `secret` under `scheme`, and the key
/// id `key_id` where the scheme sends it. A timestamp the scheme sends must be within five
/// minutes of now.
#[derive(Clone)]
pub struct SignatureCheck {
    pub scheme: SigningScheme,
    pub key_id: String,
    pub secret: String,
}

impl std::fmt::Debug for SignatureCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignatureCheck(..)")
    }
}

const DEFAULT_STRING_TO_SIGN: &str = "{method}\n{path}\n{query}\n{timestamp}\n{body}";

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The value of `name` in a raw query, decoded.
fn param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A value sent in the header if it is named, else in the query parameter if that is.
fn sent(headers: &HeaderMap, query: &str, header_name: &str, parameter: &str) -> Option<String> {
    if !header_name.is_empty() {
        header(headers, header_name).map(str::to_owned)
    } else if !parameter.is_empty() {
        param(query, parameter)
    } else {
        None
    }
}

impl SignatureCheck {
    /// The key id the request presents, if the scheme sends one.
    pub(super) fn key_id_of(&self, headers: &HeaderMap, uri: &Uri) -> Option<String> {
        let scheme = &self.scheme;
        let query = uri.query().unwrap_or_default();
        sent(
            headers,
            query,
            &scheme.key_id_header,
            &scheme.key_id_parameter,
        )
    }

    pub(super) fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> bool {
        let scheme = &self.scheme;
        let raw_query = uri.query().unwrap_or_default();
        let Some(signature) = sent(
            headers,
            raw_query,
            &scheme.signature_header,
            &scheme.signature_parameter,
        ) else {
            return false;
        };
        let Some(signature) = signature.strip_prefix(scheme.signature_prefix.as_str()) else {
            return false;
        };
        let sends_key_id = !scheme.key_id_header.is_empty() || !scheme.key_id_parameter.is_empty();
        if sends_key_id && self.key_id_of(headers, uri).as_deref() != Some(self.key_id.as_str()) {
            return false;
        }
        let timestamp = sent(
            headers,
            raw_query,
            &scheme.timestamp_header,
            &scheme.timestamp_parameter,
        )
        .unwrap_or_default();
        let sends_timestamp =
            !scheme.timestamp_header.is_empty() || !scheme.timestamp_parameter.is_empty();
        if sends_timestamp && !fresh(&timestamp, scheme.timestamp_format()) {
            return false;
        }
        // The query as sent, less the signature's own parameter.
        let query: Vec<&str> = raw_query
            .split('&')
            .filter(|piece| !piece.is_empty())
            .filter(|piece| {
                scheme.signature_parameter.is_empty()
                    || url::form_urlencoded::parse(piece.as_bytes())
                        .next()
                        .is_none_or(|(key, _)| key != scheme.signature_parameter.as_str())
            })
            .collect();
        let body_text = String::from_utf8_lossy(body);
        let template = if scheme.string_to_sign.is_empty() {
            DEFAULT_STRING_TO_SIGN.to_owned()
        } else {
            scheme.string_to_sign.replace("\\n", "\n")
        };
        let values = [
            ("method", method.as_str().to_owned()),
            ("path", uri.path().to_owned()),
            ("query", query.join("&")),
            ("body", body_text.into_owned()),
            ("body_sha256", hex::encode(Sha256::digest(body))),
            ("timestamp", timestamp),
            ("key_id", self.key_id.clone()),
        ];
        let text = fill(&template, &values);
        let mac = match scheme.algorithm() {
            SigningAlgorithm::HmacSha1 => {
                let mut mac =
                    Hmac::<sha1::Sha1>::new_from_slice(self.secret.as_bytes()).expect("any key");
                mac.update(text.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            _ => {
                let mut mac =
                    Hmac::<Sha256>::new_from_slice(self.secret.as_bytes()).expect("any key");
                mac.update(text.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
        };
        let expected = match scheme.encoding() {
            SignatureEncoding::Base64 => STANDARD.encode(mac),
            _ => hex::encode(mac),
        };
        expected == signature
    }
}

/// `template` with each `{name}` of `values` replaced, in one pass.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::new();
    let mut rest = template;
    'scan: while !rest.is_empty() {
        for (name, value) in values {
            let placeholder = format!("{{{name}}}");
            if rest.starts_with(&placeholder) {
                out.push_str(value);
                rest = &rest[placeholder.len()..];
                continue 'scan;
            }
        }
        let next = rest.chars().next().expect("not empty");
        out.push(next);
        rest = &rest[next.len_utf8()..];
    }
    out
}

/// Whether a timestamp is within five minutes of now.
fn fresh(timestamp: &str, format: TimestampFormat) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    let at = match format {
        TimestampFormat::EpochMillis => timestamp.parse::<f64>().ok().map(|ms| ms / 1000.0),
        TimestampFormat::Rfc3339 => rfc3339_seconds(timestamp),
        _ => timestamp.parse::<f64>().ok(),
    };
    at.is_some_and(|at| (now - at).abs() < 300.0)
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339_seconds(text: &str) -> Option<f64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (date.next()??, date.next()??, date.next()??);
    let mut time = time.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (time.next()??, time.next()??, time.next()??);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_reads_as_epoch_seconds() {
        assert_eq!(
            rfc3339_seconds("2026-12-02T00:00:00Z"),
            Some(1_796_169_600.0)
        );
        assert_eq!(rfc3339_seconds("1970-01-01T00:00:01Z"), Some(1.0));
        assert_eq!(rfc3339_seconds("soon"), None);
    }

    #[test]
    fn placeholders_are_filled_once() {
        let values = [("a", "{b}".to_owned()), ("b", "x".to_owned())];
        assert_eq!(fill("{a}-{b}-{c}", &values), "{b}-x-{c}");
    }
}
