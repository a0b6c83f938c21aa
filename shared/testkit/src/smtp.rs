//! A real SMTP server on loopback, for tests of email reports: the relay a service sends to.
//!
//! It speaks plain-text SMTP (RFC 5321) as a relay would: a greeting, `EHLO`/`HELO`,
//! `MAIL FROM`, `RCPT TO`, `DATA` with dot-stuffing, `RSET`, `NOOP`, `QUIT`, and answers
//! commands out of sequence with 503. Each accepted message is kept with its envelope and raw
//! data for the test to read ([`ReceivedMail`], which also decodes MIME parts); tests can make
//! it refuse the next messages at the end of `DATA` with a transient (4xx) or permanent (5xx)
//! code, as a relay that is over quota or rejects the content would.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Longest command line accepted (RFC 5321 allows 512 octets; extensions add a little).
const MAX_COMMAND: usize = 4096;
/// Largest message accepted.
const MAX_MESSAGE: usize = 25 * 1024 * 1024;
/// Most recipients of one message.
const MAX_RECIPIENTS: usize = 100;

/// One message the server accepted (or refused), as the client sent it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The name the client gave in `EHLO`/`HELO`.
    pub helo: String,
    /// The envelope sender (`MAIL FROM`), without the angle brackets.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), in order.
    pub to: Vec<String>,
    /// The message as transmitted, dot-stuffing removed, lines ending in CRLF, without the
    /// terminating `.` line.
    pub data: String,
    /// When the end of the data arrived.
    pub received_at: Instant,
}

#[derive(Default)]
struct Inner {
    accepted: Mutex<Vec<ReceivedMail>>,
    refused: Mutex<Vec<(u16, ReceivedMail)>>,
    refuse_next: Mutex<VecDeque<u16>>,
    sessions: Mutex<usize>,
}

/// A running SMTP server; stops when dropped.
pub struct SmtpServer {
    pub address: SocketAddr,
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let inner = Arc::new(Inner::default());
        let shared = inner.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                *shared.sessions.lock().expect("sessions") += 1;
                tokio::spawn(session(stream, shared.clone()));
            }
        });
        Self {
            address,
            inner,
            task,
        }
    }

    pub fn host(&self) -> String {
        self.address.ip().to_string()
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The next `count` messages are refused with `code` (e.g. 451, a transient failure
    /// the sender should retry, or 554, a permanent one) once their data has arrived.
    pub fn refuse_next(&self, count: usize, code: u16) {
        assert!(
            (400..600).contains(&code),
            "a refusal is a 4xx or 5xx reply"
        );
        self.inner
            .refuse_next
            .lock()
            .expect("refusals")
            .extend(std::iter::repeat_n(code, count));
    }

    /// Every message accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.inner.accepted.lock().expect("messages").clone()
    }

    /// Every message refused so far, with the code it was refused with.
    pub fn refused(&self) -> Vec<(u16, ReceivedMail)> {
        self.inner.refused.lock().expect("refused").clone()
    }

    /// Connections accepted so far.
    pub fn sessions(&self) -> usize {
        *self.inner.sessions.lock().expect("sessions")
    }
}

/// The state of one SMTP session.
#[derive(Default)]
struct Transaction {
    from: Option<String>,
    to: Vec<String>,
}

async fn session(stream: TcpStream, inner: Arc<Inner>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut helo: Option<String> = None;
    let mut transaction = Transaction::default();
    macro_rules! reply {
        ($text:expr) => {
            if write
                .write_all(format!("{}\r\n", $text).as_bytes())
                .await
                .is_err()
            {
                return;
            }
        };
    }
    reply!("220 trellis-testkit ESMTP ready");
    loop {
        let line = match read_line(&mut reader, MAX_COMMAND).await {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(LineError::TooLong) => {
                reply!("500 5.5.2 line too long");
                continue;
            }
            Err(LineError::Io) => return,
        };
        let (verb, argument) = match line.split_once(' ') {
            Some((verb, argument)) => (verb.to_ascii_uppercase(), argument.trim().to_owned()),
            None => (line.trim().to_ascii_uppercase(), String::new()),
        };
        match verb.as_str() {
            "EHLO" => {
                helo = Some(argument.clone());
                transaction = Transaction::default();
                reply!(format!(
                    "250-trellis-testkit greets {argument}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE {MAX_MESSAGE}"
                ));
            }
            "HELO" => {
                helo = Some(argument.clone());
                transaction = Transaction::default();
                reply!("250 trellis-testkit");
            }
            "MAIL" => {
                if helo.is_none() {
                    reply!("503 5.5.1 say EHLO or HELO first");
                } else if transaction.from.is_some() {
                    reply!("503 5.5.1 a transaction is already open");
                } else {
                    match path_after(&argument, "FROM:") {
                        Some(from) => {
                            transaction.from = Some(from);
                            reply!("250 2.1.0 sender ok");
                        }
                        None => reply!("501 5.5.4 syntax: MAIL FROM:<address>"),
                    }
                }
            }
            "RCPT" => {
                if transaction.from.is_none() {
                    reply!("503 5.5.1 need MAIL FROM first");
                } else if transaction.to.len() >= MAX_RECIPIENTS {
                    reply!("452 4.5.3 too many recipients");
                } else {
                    match path_after(&argument, "TO:").filter(|to| !to.is_empty()) {
                        Some(to) => {
                            transaction.to.push(to);
                            reply!("250 2.1.5 recipient ok");
                        }
                        None => reply!("501 5.5.4 syntax: RCPT TO:<address>"),
                    }
                }
            }
            "DATA" => {
                if transaction.to.is_empty() {
                    reply!("503 5.5.1 need RCPT TO first");
                    continue;
                }
                reply!("354 end data with <CR><LF>.<CR><LF>");
                let data = match read_data(&mut reader).await {
                    Ok(data) => data,
                    Err(LineError::TooLong) => {
                        transaction = Transaction::default();
                        reply!("552 5.3.4 message too big");
                        continue;
                    }
                    Err(LineError::Io) => return,
                };
                let mail = ReceivedMail {
                    helo: helo.clone().unwrap_or_default(),
                    from: transaction.from.take().unwrap_or_default(),
                    to: std::mem::take(&mut transaction.to),
                    data,
                    received_at: Instant::now(),
                };
                let refusal = inner.refuse_next.lock().expect("refusals").pop_front();
                match refusal {
                    Some(code) => {
                        inner.refused.lock().expect("refused").push((code, mail));
                        let class = if code < 500 {
                            "4.3.0 try again later"
                        } else {
                            "5.7.1 rejected"
                        };
                        reply!(format!("{code} {class} (refused by the test server)"));
                    }
                    None => {
                        let number = {
                            let mut accepted = inner.accepted.lock().expect("messages");
                            accepted.push(mail);
                            accepted.len()
                        };
                        reply!(format!("250 2.0.0 queued as {number}"));
                    }
                }
            }
            "RSET" => {
                transaction = Transaction::default();
                reply!("250 2.0.0 reset");
            }
            "NOOP" => reply!("250 2.0.0 ok"),
            "VRFY" => reply!("252 2.1.5 cannot verify, will accept"),
            "QUIT" => {
                reply!("221 2.0.0 bye");
                let _ = write.shutdown().await;
                return;
            }
            _ => reply!("500 5.5.2 command not recognized"),
        }
    }
}

enum LineError {
    TooLong,
    Io,
}

/// One line without its line ending; `None` at the end of the stream.
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    limit: usize,
) -> Result<Option<String>, LineError> {
    let mut bytes = Vec::new();
    loop {
        let buffer = reader.fill_buf().await.map_err(|_| LineError::Io)?;
        if buffer.is_empty() {
            return Ok((!bytes.is_empty()).then(|| text(&bytes)));
        }
        match buffer.iter().position(|b| *b == b'\n') {
            Some(end) => {
                bytes.extend_from_slice(&buffer[..end]);
                reader.consume(end + 1);
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
                if bytes.len() > limit {
                    return Err(LineError::TooLong);
                }
                return Ok(Some(text(&bytes)));
            }
            None => {
                let len = buffer.len();
                bytes.extend_from_slice(buffer);
                reader.consume(len);
                if bytes.len() > limit {
                    // Skip the rest of the line so the session can go on.
                    loop {
                        let buffer = reader.fill_buf().await.map_err(|_| LineError::Io)?;
                        if buffer.is_empty() {
                            return Err(LineError::Io);
                        }
                        if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                            reader.consume(end + 1);
                            return Err(LineError::TooLong);
                        }
                        let len = buffer.len();
                        reader.consume(len);
                    }
                }
            }
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The message data up to the lone `.` line, with dot-stuffing undone (RFC 5321 4.5.2).
async fn read_data<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Result<String, LineError> {
    let mut data = String::new();
    let mut too_big = false;
    loop {
        let line = match read_line(reader, MAX_MESSAGE).await {
            Ok(Some(line)) => line,
            Ok(None) => return Err(LineError::Io),
            Err(LineError::TooLong) => {
                too_big = true;
                continue;
            }
            Err(LineError::Io) => return Err(LineError::Io),
        };
        if line == "." {
            return if too_big {
                Err(LineError::TooLong)
            } else {
                Ok(data)
            };
        }
        let line = line.strip_prefix('.').unwrap_or(&line);
        if data.len() + line.len() + 2 > MAX_MESSAGE {
            too_big = true;
        }
        if !too_big {
            data.push_str(line);
            data.push_str("\r\n");
        }
    }
}

/// The address of `FROM:<a@b> PARAMS` (or `TO:`); `Some("")` for the null path `<>`.
fn path_after(argument: &str, keyword: &str) -> Option<String> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

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
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn expect(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, code: &str) -> String {
        loop {
            let line = read_line(reader, MAX_COMMAND)
                .await
                .ok()
                .flatten()
                .expect("a reply line");
            if line.as_bytes().get(3) != Some(&b'-') {
                assert!(line.starts_with(code), "expected {code}, got {line}");
                return line;
            }
        }
    }

    #[tokio::test]
    async fn a_session_delivers_a_dot_stuffed_message_and_refuses_on_request() {
        let server = SmtpServer::start().await;
        let stream = TcpStream::connect(server.address).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        expect(&mut reader, "220").await;
        for (command, code) in [
            ("MAIL FROM:<a@test>", "503"),
            ("EHLO client.test", "250"),
            ("RCPT TO:<b@test>", "503"),
            ("MAIL FROM:<a@test> BODY=8BITMIME", "250"),
            ("RCPT TO:<b@test>", "250"),
            ("RCPT TO:<c@test>", "250"),
            ("NOOP", "250"),
            ("DATA", "354"),
        ] {
            write
                .write_all(format!("{command}\r\n").as_bytes())
                .await
                .unwrap();
            expect(&mut reader, code).await;
        }
        write
            .write_all(b"Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n")
            .await
            .unwrap();
        expect(&mut reader, "250").await;

        server.refuse_next(1, 451);
        for (command, code) in [
            ("MAIL FROM:<a@test>", "250"),
            ("RCPT TO:<b@test>", "250"),
            ("RSET", "250"),
            ("RCPT TO:<b@test>", "503"),
            ("MAIL FROM:<a@test>", "250"),
            ("RCPT TO:<d@test>", "250"),
            ("DATA", "354"),
        ] {
            write
                .write_all(format!("{command}\r\n").as_bytes())
                .await
                .unwrap();
            expect(&mut reader, code).await;
        }
        write
            .write_all(b"Subject: no\r\n\r\nx\r\n.\r\n")
            .await
            .unwrap();
        expect(&mut reader, "451").await;
        write.write_all(b"QUIT\r\n").await.unwrap();
        expect(&mut reader, "221").await;
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest).await;

        let messages = server.messages();
        assert_eq!(messages.len(), 1);
        let mail = &messages[0];
        assert_eq!(mail.helo, "client.test");
        assert_eq!(mail.from, "a@test");
        assert_eq!(mail.to, ["b@test", "c@test"]);
        assert_eq!(mail.data, "Subject: hi\r\n\r\n.leading dot\r\nbody\r\n");
        assert_eq!(mail.subject().as_deref(), Some("hi"));
        assert_eq!(mail.text().as_deref(), Some(".leading dot\nbody\n"));
        let refused = server.refused();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, 451);
        assert_eq!(refused[0].1.to, ["d@test"]);
    }

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
