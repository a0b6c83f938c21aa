//! Signed requests, as Klipfolio's Hash Helper builds them: an HMAC (SHA-256 or SHA-1) with
//! a shared secret over a string made from the request (`{method}`, `{path}`, `{query}`,
//! `{body}`, `{body_sha256}`, `{timestamp}`, `{key_id}`), written in hex or base64 and sent
//! in a header or a query parameter, with the timestamp and the key id where the scheme
//! puts them. The timestamp and key id go into the query before it is signed, so
//! `{query}` is the query as sent, less the signature itself.

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::credentials::{Algorithm, Encoding, Placement, Signed, TimestampFormat};
use super::pages::append_query;
use super::placeholders::render;

/// The string signed when a scheme names none.
pub const DEFAULT_STRING_TO_SIGN: &str = "{method}\n{path}\n{query}\n{timestamp}\n{body}";

/// What signing adds to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Headers to send (the signature's, the timestamp's, the key id's).
    pub headers: Vec<(String, String)>,
    /// The signature as sent, to keep out of messages.
    pub value: String,
}

/// Signs a request to `url` (whose query gains the parameters the scheme places there).
pub fn sign(
    signed: &Signed,
    method: &str,
    url: &mut url::Url,
    body: &str,
    now: DateTime<Utc>,
) -> Signature {
    let timestamp = match signed.timestamp_format {
        TimestampFormat::EpochSeconds => now.timestamp().to_string(),
        TimestampFormat::EpochMillis => now.timestamp_millis().to_string(),
        TimestampFormat::Rfc3339 => now.to_rfc3339_opts(SecondsFormat::Secs, true),
    };
    let mut headers = Vec::new();
    let mut place = |placement: &Option<Placement>, value: &str, url: &mut url::Url| match placement
    {
        Some(Placement::Header(name)) => headers.push((name.clone(), value.to_owned())),
        Some(Placement::Query(name)) => append_query(url, name, value),
        None => {}
    };
    place(&signed.timestamp, &timestamp, url);
    place(&signed.key_id_placement, &signed.key_id, url);

    let path = url.path().to_owned();
    let query = url.query().unwrap_or_default().to_owned();
    let text = render(&signed.string_to_sign, |name| match name {
        "method" => Some(method.to_owned()),
        "path" => Some(path.clone()),
        "query" => Some(query.clone()),
        "body" => Some(body.to_owned()),
        "body_sha256" => Some(hex::encode(Sha256::digest(body.as_bytes()))),
        "timestamp" => Some(timestamp.clone()),
        "key_id" => Some(signed.key_id.clone()),
        _ => None,
    });
    let mac = hmac(signed.algorithm, signed.key.as_bytes(), text.as_bytes());
    let encoded = match signed.encoding {
        Encoding::Hex => hex::encode(mac),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(mac),
    };
    let value = format!("{}{encoded}", signed.signature_prefix);
    match &signed.signature {
        Placement::Header(name) => headers.push((name.clone(), value.clone())),
        Placement::Query(name) => append_query(url, name, &value),
    }
    Signature {
        headers,
        value: encoded,
    }
}

fn hmac(algorithm: Algorithm, key: &[u8], text: &[u8]) -> Vec<u8> {
    // An HMAC takes a key of any length: `new_from_slice` cannot fail for these.
    match algorithm {
        Algorithm::HmacSha256 => match Hmac::<Sha256>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(text);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        },
        Algorithm::HmacSha1 => match Hmac::<sha1::Sha1>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(text);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheme(algorithm: Algorithm, encoding: Encoding) -> Signed {
        Signed {
            key_id: "key-1".into(),
            key: "key".into(),
            algorithm,
            string_to_sign: "The quick brown fox jumps over the lazy dog".into(),
            encoding,
            signature: Placement::Header("X-Signature".into()),
            signature_prefix: String::new(),
            timestamp: None,
            timestamp_format: TimestampFormat::EpochSeconds,
            key_id_placement: None,
        }
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_169_600, 123_000_000).unwrap()
    }

    #[test]
    fn hmacs_match_the_published_examples() {
        // The examples of https://en.wikipedia.org/wiki/HMAC.
        let mut url = url::Url::parse("https://api.example/x").unwrap();
        let sha256 = sign(
            &scheme(Algorithm::HmacSha256, Encoding::Hex),
            "GET",
            &mut url,
            "",
            at(),
        );
        assert_eq!(
            sha256.value,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        let sha1 = sign(
            &scheme(Algorithm::HmacSha1, Encoding::Hex),
            "GET",
            &mut url,
            "",
            at(),
        );
        assert_eq!(sha1.value, "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9");
        let base64 = sign(
            &scheme(Algorithm::HmacSha1, Encoding::Base64),
            "GET",
            &mut url,
            "",
            at(),
        );
        assert_eq!(base64.value, "3nybhbi3iqa8ino29wqQcBydtNk=");
        assert_eq!(
            base64.headers,
            vec![("X-Signature".to_owned(), base64.value.clone())]
        );
    }

    #[test]
    fn the_canonical_string_is_the_request_as_sent() {
        let signed = Signed {
            string_to_sign:
                "{method}\n{path}\n{query}\n{timestamp}\n{key_id}\n{body_sha256}\n{body}".into(),
            signature: Placement::Query("sig".into()),
            signature_prefix: "v1=".into(),
            timestamp: Some(Placement::Query("ts".into())),
            timestamp_format: TimestampFormat::EpochMillis,
            key_id_placement: Some(Placement::Header("X-Key".into())),
            ..scheme(Algorithm::HmacSha256, Encoding::Hex)
        };
        let mut url = url::Url::parse("https://api.example/v1/a%20b?x=1").unwrap();
        let signature = sign(&signed, "POST", &mut url, "{\"a\":1}", at());
        let expected_text = format!(
            "POST\n/v1/a%20b\nx=1&ts=1796169600123\n1796169600123\nkey-1\n{}\n{{\"a\":1}}",
            hex::encode(Sha256::digest(b"{\"a\":1}"))
        );
        let expected = hex::encode(hmac(
            Algorithm::HmacSha256,
            b"key",
            expected_text.as_bytes(),
        ));
        assert_eq!(signature.value, expected);
        assert_eq!(
            url.query().unwrap(),
            format!("x=1&ts=1796169600123&sig=v1%3D{expected}")
        );
        assert_eq!(
            signature.headers,
            vec![("X-Key".to_owned(), "key-1".to_owned())]
        );
    }

    #[test]
    fn rfc3339_timestamps_are_whole_seconds_in_utc() {
        let signed = Signed {
            string_to_sign: "{timestamp}".into(),
            timestamp: Some(Placement::Header("X-Timestamp".into())),
            timestamp_format: TimestampFormat::Rfc3339,
            ..scheme(Algorithm::HmacSha256, Encoding::Hex)
        };
        let mut url = url::Url::parse("https://api.example/").unwrap();
        let signature = sign(&signed, "GET", &mut url, "", at());
        assert_eq!(
            signature.headers[0],
            ("X-Timestamp".to_owned(), "2026-12-02T00:00:00Z".to_owned())
        );
    }
}
