//! Reading a received message: its headers (RFC 2047 encoded words decoded) and its leaf
//! MIME parts (base64 and quoted-printable undone).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::ReceivedMail;

/// One leaf part of a MIME message, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailPart {
    /// The media type, lower case, without parameters (`text/plain`).
    pub content_type: String,
    /// The body with its transfer encoding (base64, quoted-printable) undone, as UTF-8,
    /// lines ending in `\n` (SMTP's CRLF is a transport detail).
    pub body: String,
}

impl ReceivedMail {
    fn split(&self) -> (Vec<(String, String)>, &str) {
        split_message(&self.data)
    }

    /// A top-level header, unfolded, with RFC 2047 encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = self.split();
        headers
            .into_iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| decode_words(&value))
    }

    pub fn subject(&self) -> Option<String> {
        self.header("Subject")
    }

    /// Every leaf part of the message (the message itself when it is not multipart).
    pub fn parts(&self) -> Vec<MailPart> {
        let mut parts = Vec::new();
        collect_parts(&self.data, &mut parts);
        parts
    }

    /// The first part of `content_type`, decoded.
    pub fn part(&self, content_type: &str) -> Option<String> {
        self.parts()
            .into_iter()
            .find(|part| part.content_type == content_type)
            .map(|part| part.body)
    }

    /// The plain-text body.
    pub fn text(&self) -> Option<String> {
        self.part("text/plain")
    }

    /// The HTML body.
    pub fn html(&self) -> Option<String> {
        self.part("text/html")
    }
}

/// Headers (unfolded) and body of an entity.
fn split_message(entity: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = match entity.find("\r\n\r\n") {
        Some(at) => (&entity[..at], &entity[at + 4..]),
        None => match entity.find("\n\n") {
            Some(at) => (&entity[..at], &entity[at + 2..]),
            None => (entity, ""),
        },
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

fn header_of<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// The media type of a Content-Type value and one of its parameters.
fn media_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut pieces = value.split(';');
    let kind = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let params = pieces
        .filter_map(|piece| piece.split_once('='))
        .map(|(key, value)| {
            (
                key.trim().to_ascii_lowercase(),
                value.trim().trim_matches('"').to_owned(),
            )
        })
        .collect();
    (kind, params)
}

fn collect_parts(entity: &str, parts: &mut Vec<MailPart>) {
    let (headers, body) = split_message(entity);
    let (kind, params) = media_type(header_of(&headers, "Content-Type").unwrap_or("text/plain"));
    if kind.starts_with("multipart/") {
        let Some((_, boundary)) = params.iter().find(|(key, _)| key == "boundary") else {
            return;
        };
        let delimiter = format!("--{boundary}");
        let mut current: Option<String> = None;
        for line in body.split("\r\n") {
            if line == delimiter || line == format!("{delimiter}--") {
                if let Some(part) = current.take() {
                    collect_parts(&part, parts);
                }
                if line.ends_with("--") && line != delimiter {
                    break;
                }
                current = Some(String::new());
            } else if let Some(part) = current.as_mut() {
                part.push_str(line);
                part.push_str("\r\n");
            }
        }
        return;
    }
    let encoding = header_of(&headers, "Content-Transfer-Encoding")
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            STANDARD.decode(compact).unwrap_or_default()
        }
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    parts.push(MailPart {
        content_type: kind,
        body: String::from_utf8_lossy(&bytes).replace("\r\n", "\n"),
    });
}

/// Quoted-printable (RFC 2045 6.7): `=XX` octets and `=` soft line breaks.
fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let Some(hex) = text.get(i + 1..i + 3)
                && let Ok(byte) = u8::from_str_radix(hex, 16)
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) in a header value.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        let after = &rest[start + 2..];
        let word = after.split_once('?').and_then(|(_charset, tail)| {
            let (encoding, tail) = tail.split_once('?')?;
            let (payload, tail) = tail.split_once("?=")?;
            let decoded = match encoding.to_ascii_lowercase().as_str() {
                "b" => STANDARD.decode(payload).ok()?,
                "q" => decode_quoted_printable(&payload.replace('_', " ")),
                _ => return None,
            };
            Some((String::from_utf8_lossy(&decoded).into_owned(), tail))
        });
        match word {
            Some((decoded, tail)) => {
                // Whitespace between adjacent encoded words is not part of the text.
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                rest = tail;
                last_was_word = true;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = after;
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::ReceivedMail;

    #[test]
    fn multipart_bodies_and_encoded_words_are_decoded() {
        let data = "Subject: =?utf-8?b?V2Vla2x5IOKAlCBzYWxlcw==?=\r\n\
            Content-Type: multipart/alternative; boundary=\"XYZ\"\r\n\r\n\
            --XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\n\
            Total =E2=80=94 49.5=\r\n and more\r\n\
            --XYZ\r\nContent-Type: text/html; charset=utf-8\r\n\
            Content-Transfer-Encoding: base64\r\n\r\n\
            PHA+NDkuNTwvcD4=\r\n--XYZ--\r\n";
        let mail = ReceivedMail {
            helo: String::new(),
            from: String::new(),
            to: vec![],
            data: data.into(),
            received_at: Instant::now(),
        };
        assert_eq!(mail.subject().as_deref(), Some("Weekly — sales"));
        assert_eq!(mail.text().as_deref(), Some("Total — 49.5 and more\n"));
        assert_eq!(mail.html().as_deref(), Some("<p>49.5</p>"));
    }
}
