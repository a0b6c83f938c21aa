//! One SMTP session: the commands of RFC 5321 in order, `DATA` with dot-stuffing undone,
//! and the message kept (or refused, when the test asked for it) with its envelope.

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Inner, MAX_COMMAND, MAX_MESSAGE, MAX_RECIPIENTS, ReceivedMail};

/// The state of one SMTP session.
#[derive(Default)]
struct Transaction {
    from: Option<String>,
    to: Vec<String>,
}

/// Serves one client until it quits or hangs up.
pub(super) async fn serve(stream: TcpStream, inner: Arc<Inner>) {
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

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

    use super::*;
    use crate::smtp::SmtpServer;

    /// A client speaking to the server line by line.
    struct Client {
        reader: BufReader<OwnedReadHalf>,
        write: OwnedWriteHalf,
    }

    impl Client {
        /// Reads a reply (every line of a multi-line one) and checks its code.
        async fn expect(&mut self, code: &str) -> String {
            loop {
                let line = read_line(&mut self.reader, MAX_COMMAND)
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

        /// Sends `bytes` as they are, and checks the reply's code.
        async fn send(&mut self, bytes: &[u8], code: &str) {
            self.write.write_all(bytes).await.unwrap();
            self.expect(code).await;
        }

        /// Sends each command, checking each reply's code.
        async fn converse(&mut self, exchanges: &[(&str, &str)]) {
            for (command, code) in exchanges {
                self.send(format!("{command}\r\n").as_bytes(), code).await;
            }
        }
    }

    #[tokio::test]
    async fn a_session_delivers_a_dot_stuffed_message_and_refuses_on_request() {
        let server = SmtpServer::start().await;
        let stream = TcpStream::connect(server.address).await.unwrap();
        let (read, write) = stream.into_split();
        let mut client = Client {
            reader: BufReader::new(read),
            write,
        };
        client.expect("220").await;
        client
            .converse(&[
                ("MAIL FROM:<a@test>", "503"),
                ("EHLO client.test", "250"),
                ("RCPT TO:<b@test>", "503"),
                ("MAIL FROM:<a@test> BODY=8BITMIME", "250"),
                ("RCPT TO:<b@test>", "250"),
                ("RCPT TO:<c@test>", "250"),
                ("NOOP", "250"),
                ("DATA", "354"),
            ])
            .await;
        client
            .send(b"Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n", "250")
            .await;

        server.refuse_next(1, 451);
        client
            .converse(&[
                ("MAIL FROM:<a@test>", "250"),
                ("RCPT TO:<b@test>", "250"),
                ("RSET", "250"),
                ("RCPT TO:<b@test>", "503"),
                ("MAIL FROM:<a@test>", "250"),
                ("RCPT TO:<d@test>", "250"),
                ("DATA", "354"),
            ])
            .await;
        client.send(b"Subject: no\r\n\r\nx\r\n.\r\n", "451").await;
        client.converse(&[("QUIT", "221")]).await;
        let mut rest = Vec::new();
        let _ = client.reader.read_to_end(&mut rest).await;

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
}
