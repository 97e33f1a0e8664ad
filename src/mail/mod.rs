//! Outgoing mail: SMTP when configured, otherwise `.eml` files in the data dir's outbox
//! (plus a log line), and an in-memory mailer for tests.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use lettre::message::{header::ContentType, Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{MailConfig, MailMode, SmtpTls};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    File {
        outbox: PathBuf,
        from: Mailbox,
    },
    Memory(Arc<Mutex<Vec<OutgoingMail>>>),
}

impl Mailer {
    pub fn from_config(config: &MailConfig, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .from
            .parse()
            .context("mail.from is not a mail address")?;
        Ok(match config.mode {
            MailMode::File => Mailer::File {
                outbox: data_dir.join("outbox"),
                from,
            },
            MailMode::Smtp => {
                let host = config.smtp_host.as_str();
                let mut builder = match config.smtp_tls {
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?
                    }
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
                    SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                }
                .port(config.smtp_port)
                .timeout(Some(std::time::Duration::from_secs(20)));
                if !config.smtp_username.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        config.smtp_username.clone(),
                        config.smtp_password.clone(),
                    ));
                }
                Mailer::Smtp {
                    transport: builder.build(),
                    from,
                }
            }
        })
    }

    pub fn memory() -> (Self, Arc<Mutex<Vec<OutgoingMail>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        (Mailer::Memory(sent.clone()), sent)
    }

    pub async fn send(&self, mail: OutgoingMail) -> anyhow::Result<()> {
        match self {
            Mailer::Memory(sent) => {
                sent.lock()
                    .map_err(|_| anyhow::anyhow!("mailbox poisoned"))?
                    .push(mail);
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                let message = build(from, &mail)?;
                transport
                    .send(message)
                    .await
                    .context("SMTP delivery failed")?;
                tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent by SMTP");
                Ok(())
            }
            Mailer::File { outbox, from } => {
                let message = build(from, &mail)?;
                let outbox = outbox.clone();
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S"),
                    uuid::Uuid::new_v4().simple()
                );
                let path = outbox.join(name);
                let bytes = message.formatted();
                let written = path.clone();
                tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                    std::fs::create_dir_all(&outbox)?;
                    crate::private_files::write_private(&written, &bytes)?;
                    Ok(())
                })
                .await
                .context("outbox task")??;
                tracing::info!(to = %mail.to, subject = %mail.subject, file = %path.display(),
                    "mail written to the outbox (no SMTP server configured)");
                Ok(())
            }
        }
    }
}

fn build(from: &Mailbox, mail: &OutgoingMail) -> anyhow::Result<Message> {
    Message::builder()
        .from(from.clone())
        .to(mail.to.parse().context("recipient is not a mail address")?)
        .subject(&mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .context("cannot build the mail")
}
