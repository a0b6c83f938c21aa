//! A real SMTP server on loopback, for tests of email reports: the relay a service sends to.
//!
//! It speaks plain-text SMTP (RFC 5321) as a relay would: a greeting, `EHLO`/`HELO`,
//! `MAIL FROM`, `RCPT TO`, `DATA` with dot-stuffing, `RSET`, `NOOP`, `QUIT`, and answers
//! commands out of sequence with 503. Each accepted message is kept with its envelope and raw
//! data for the test to read ([`ReceivedMail`], which also decodes MIME parts); tests can make
//! it refuse the next messages at the end of `DATA` with a transient (4xx) or permanent (5xx)
//! code, as a relay that is over quota or rejects the content would.

mod mime;
mod session;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use mime::MailPart;

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
                tokio::spawn(session::serve(stream, shared.clone()));
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
