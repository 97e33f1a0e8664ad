//! Outgoing mail through a durable outbox: a request that sends mail commits an outbox row
//! (with whatever the mail is about, a code say) and answers; the worker (`worker.rs`) sends
//! it by SMTP, or writes it as an `.eml` file into the data dir's outbox folder (the embedded
//! default), or keeps it in memory (tests), retrying temporary failures.

pub mod api;
pub mod dkim;
pub mod message;
pub mod model;
pub mod pages;
pub mod service;
pub mod smtp;
pub mod store;
pub mod worker;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use lettre::message::{Mailbox, Message};
use tokio::sync::Notify;

use crate::config::{MailConfig, MailMode};
pub use model::{Content, NewMail};
pub use service::enqueue;
use smtp::{Failure, Smtp};

/// A mail as the memory mailer keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    /// The plain-text part.
    pub body: String,
    pub html: String,
    /// The whole message as it would go on the wire.
    pub raw: String,
}

pub enum Transport {
    Smtp(Smtp),
    File(PathBuf),
    Memory(Arc<Mutex<Vec<OutgoingMail>>>),
}

/// How mail leaves this instance, and the bell that wakes its worker.
pub struct Mailer {
    pub transport: Transport,
    pub from: Mailbox,
    /// The sender's domain: our `Message-ID`s and the DKIM domain.
    pub domain: String,
    pub dkim: Option<dkim::Dkim>,
    wake: Notify,
}

impl Mailer {
    pub fn from_config(config: &MailConfig, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        let transport = match config.mode {
            MailMode::File => Transport::File(data_dir.join("outbox")),
            MailMode::Smtp => Transport::Smtp(Smtp::from_config(config)?),
        };
        Self::with_transport(config, transport)
    }

    fn with_transport(config: &MailConfig, transport: Transport) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .from
            .parse()
            .context("mail.from is not a mail address")?;
        let domain = from.email.domain().to_string();
        let dkim = check_dkim(config)?;
        Ok(Mailer {
            transport,
            from,
            domain,
            dkim,
            wake: Notify::new(),
        })
    }

    /// A mailer that keeps mails in memory (tests), with the default sender.
    pub fn memory() -> (Self, Arc<Mutex<Vec<OutgoingMail>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let mailer = Self::with_transport(&MailConfig::default(), Transport::Memory(sent.clone()))
            .unwrap_or_else(|e| unreachable!("the default sender parses: {e}"));
        (mailer, sent)
    }

    /// Tells the worker that a mail was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Hands one built message to the transport; gives the server's reply (or where the file
    /// went). `log` receives the SMTP dialogue, step by step.
    pub async fn deliver(
        &self,
        to: &str,
        message: Message,
        words: &message::Rendered,
        log: &mut Vec<String>,
    ) -> Result<String, Failure> {
        match &self.transport {
            Transport::Smtp(smtp) => {
                let bytes = message.formatted();
                smtp.send(message.envelope(), &bytes, log).await
            }
            Transport::Memory(sent) => {
                let raw = String::from_utf8_lossy(&message.formatted()).into_owned();
                sent.lock()
                    .map_err(|_| Failure::Temporary("mailbox poisoned".into()))?
                    .push(OutgoingMail {
                        to: to.to_string(),
                        subject: words.subject.clone(),
                        body: words.text.clone(),
                        html: words.html.clone(),
                        raw,
                    });
                Ok("kept in memory".into())
            }
            Transport::File(outbox) => {
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S"),
                    uuid::Uuid::new_v4().simple()
                );
                let path = outbox.join(name);
                let bytes = message.formatted();
                let (dir, written) = (outbox.clone(), path.clone());
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    std::fs::create_dir_all(&dir)?;
                    crate::private_files::write_private(&written, &bytes)
                })
                .await
                .map_err(|e| Failure::Temporary(format!("outbox task: {e}")))?
                .map_err(|e| Failure::Temporary(format!("cannot write {}: {e}", path.display())))?;
                log.push(format!("written to {}", path.display()));
                Ok(format!("written to {}", path.display()))
            }
        }
    }
}

/// The DKIM key of `config`, read and checked, if signing is configured.
pub fn check_dkim(config: &MailConfig) -> anyhow::Result<Option<dkim::Dkim>> {
    let from: Mailbox = config
        .from
        .parse()
        .context("mail.from is not a mail address")?;
    match &config.dkim_key_file {
        Some(file) if !config.dkim_selector.is_empty() => Ok(Some(dkim::load(
            &config.dkim_selector,
            file,
            from.email.domain(),
        )?)),
        _ => Ok(None),
    }
}

/// What `picturedeck mail test` saw.
pub struct TestReport {
    pub dialogue: Vec<String>,
    pub outcome: Result<String, Failure>,
}

/// Sends a test mail now, outside the queue, keeping every step of the conversation.
pub async fn send_test(mailer: &Mailer, to: &str) -> TestReport {
    let mut dialogue = Vec::new();
    let uuid = uuid::Uuid::new_v4().to_string();
    let words = message::render(
        &Content::Test,
        crate::i18n::Lang::Zh,
        chrono::Utc::now().naive_utc(),
    );
    let id = message::message_id(&uuid, &mailer.domain);
    dialogue.push(format!(
        "from {}, Message-ID {id}, DKIM {}",
        mailer.from,
        match &mailer.dkim {
            Some(d) => format!("signed for {}", d.record_name),
            None => "off".into(),
        }
    ));
    let outcome = match message::build(
        &mailer.from,
        to,
        &id,
        &words,
        std::time::SystemTime::now(),
        mailer.dkim.as_ref().map(|d| &d.config),
    ) {
        Ok(built) => mailer.deliver(to, built, &words, &mut dialogue).await,
        Err(e) => Err(Failure::Permanent(format!("{e:#}"))),
    };
    if let Transport::Smtp(smtp) = &mailer.transport {
        smtp.close().await;
        dialogue.push("QUIT".into());
    }
    TestReport { dialogue, outcome }
}
