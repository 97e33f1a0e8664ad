//! What a mail looks like on the wire: the text in the recipient's language, a plain and a
//! simple HTML part, and the headers large providers expect (Message-ID on our domain, Date,
//! MIME-Version, Auto-Submitted), DKIM-signed when a key is configured.

use std::time::SystemTime;

use anyhow::Context as _;
use chrono::NaiveDateTime;
use lettre::message::dkim::DkimConfig;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message, MultiPart};

use super::model::Content;
use crate::i18n::{self, Lang};

/// A mail that leaves more than this long after it was asked for says so.
const LATE_AFTER_SECONDS: i64 = 60;

/// One mail's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The blocks of a mail, written out as text and as HTML.
enum Block {
    Para(String),
    Code(String),
    Notice(String),
}

fn when(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The mail's words at `now`: a code mail sent late says when the code was asked for and
/// until when it is valid; once the code has expired it is no longer shown.
pub fn render(content: &Content, lang: Lang, now: NaiveDateTime) -> Rendered {
    let t = |key: &str| i18n::text(lang, key);
    let (subject, blocks) = match content {
        Content::Code {
            topic,
            username,
            code,
            requested_at,
            expires_at,
        } => {
            let minutes = (*expires_at - *requested_at).num_minutes().to_string();
            let fill = |s: String| {
                s.replace("{username}", username)
                    .replace("{minutes}", &minutes)
                    .replace("{requested}", &when(*requested_at))
                    .replace("{expires}", &when(*expires_at))
            };
            let mut blocks = vec![Block::Para(fill(t("mail.greeting")))];
            if now >= *expires_at {
                blocks.push(Block::Notice(fill(t("mail.expired"))));
            } else {
                blocks.push(Block::Para(fill(t(&format!("mail.{topic}.intro")))));
                blocks.push(Block::Code(code.clone()));
                blocks.push(Block::Para(fill(t(&format!("mail.{topic}.outro")))));
                if (now - *requested_at).num_seconds() > LATE_AFTER_SECONDS {
                    blocks.push(Block::Notice(fill(t("mail.late"))));
                }
            }
            (t(&format!("mail.{topic}.subject")), blocks)
        }
        Content::Test => (
            t("mail.test.subject"),
            vec![Block::Para(t("mail.test.body"))],
        ),
        Content::Alert {
            rule,
            subject,
            value,
            threshold,
            opened_at,
            resolved_at,
        } => alert_blocks(rule, subject, *value, *threshold, *opened_at, *resolved_at),
    };
    let footer = t("mail.footer");
    let mut text = String::new();
    let mut html = String::new();
    for block in &blocks {
        match block {
            Block::Para(p) => {
                text.push_str(p);
                html.push_str(&format!(
                    "<p style=\"margin:0 0 16px;line-height:1.6;\">{}</p>",
                    escape(p)
                ));
            }
            Block::Code(c) => {
                text.push_str("    ");
                text.push_str(c);
                html.push_str(&format!(
                    "<p style=\"margin:0 0 16px;font-family:Menlo,Consolas,monospace;font-size:28px;\
                     font-weight:700;letter-spacing:6px;color:#1d4ed8;\">{}</p>",
                    escape(c)
                ));
            }
            Block::Notice(n) => {
                text.push_str(n);
                html.push_str(&format!(
                    "<p style=\"margin:0 0 16px;padding:12px;line-height:1.6;background:#fef3c7;\
                     border-radius:6px;color:#92400e;\">{}</p>",
                    escape(n)
                ));
            }
        }
        text.push_str("\n\n");
    }
    text.push_str("-- \n");
    text.push_str(&footer);
    text.push('\n');
    let html = format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
         <body style=\"margin:0;padding:24px;background:#f4f4f5;color:#18181b;\
         font-family:-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei',sans-serif;font-size:15px;\">\
         <div style=\"max-width:520px;margin:0 auto;padding:24px;background:#ffffff;border-radius:8px;\">\
         <p style=\"margin:0 0 20px;font-size:18px;font-weight:700;\">PictureDeck</p>{html}\
         <p style=\"margin:24px 0 0;font-size:12px;color:#71717a;\">{footer}</p></div></body></html>\n",
        lang = lang.code(),
        title = escape(&subject),
        footer = escape(&footer),
    );
    Rendered {
        subject,
        text,
        html,
    }
}

/// An alert mail goes to every admin, whose language the outbox does not know: it is
/// written in Chinese and English, the subject too.
fn alert_blocks(
    rule: &str,
    subject: &str,
    value: i64,
    threshold: i64,
    opened_at: NaiveDateTime,
    resolved_at: Option<NaiveDateTime>,
) -> (String, Vec<Block>) {
    let mut subjects = Vec::new();
    let mut blocks = Vec::new();
    for lang in [Lang::Zh, Lang::En] {
        let t = |key: &str| i18n::text(lang, key);
        let fill = |s: String| {
            s.replace("{value}", &value.to_string())
                .replace("{threshold}", &threshold.to_string())
                .replace("{subject}", subject)
                .replace("{opened}", &when(opened_at))
                .replace("{resolved}", &resolved_at.map(when).unwrap_or_default())
        };
        let what = fill(t(&format!("ops.rule.{rule}")));
        let (head, status) = match resolved_at {
            None => ("mail.alert.subject_open", "mail.alert.open"),
            Some(_) => ("mail.alert.subject_resolved", "mail.alert.resolved"),
        };
        subjects.push(fill(t(head)).replace("{what}", &what));
        blocks.push(Block::Para(fill(t(status)).replace("{what}", &what)));
        let mut more = fill(t("mail.alert.more"));
        if !subject.is_empty() {
            more = format!("{} {more}", fill(t("mail.alert.subject")));
        }
        blocks.push(Block::Notice(more));
    }
    (subjects.join(" / "), blocks)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `Auto-Submitted: auto-generated` (RFC 3834): no out-of-office replies to our mails.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// The mail's `Message-ID`: the outbox row's id on the sender's domain, the same on every try.
pub fn message_id(uuid: &str, domain: &str) -> String {
    format!("<{}@{domain}>", uuid.replace('-', ""))
}

/// The whole message, signed when `dkim` is given.
pub fn build(
    from: &Mailbox,
    to: &str,
    message_id: &str,
    words: &Rendered,
    date: SystemTime,
    dkim: Option<&DkimConfig>,
) -> anyhow::Result<Message> {
    let mut message = Message::builder()
        .from(from.clone())
        .to(to.parse().context("the recipient is not a mail address")?)
        .subject(&words.subject)
        .message_id(Some(message_id.to_string()))
        .date(date)
        .header(AutoSubmitted)
        .multipart(MultiPart::alternative_plain_html(
            words.text.clone(),
            words.html.clone(),
        ))
        .context("cannot build the mail")?;
    if let Some(dkim) = dkim {
        message.sign(dkim);
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_mail(requested: NaiveDateTime) -> Content {
        Content::Code {
            topic: "reset_password".into(),
            username: "ann<b>".into(),
            code: "123456".into(),
            requested_at: requested,
            expires_at: requested + chrono::Duration::minutes(10),
        }
    }

    #[test]
    fn a_code_mail_on_time_has_the_code_in_both_parts_and_no_late_notice() {
        let at = chrono::Utc::now().naive_utc();
        let r = render(&code_mail(at), Lang::En, at);
        assert_eq!(r.subject, "Your PictureDeck password reset code");
        assert!(r.text.contains("    123456\n") && r.html.contains(">123456</p>"));
        assert!(r.html.contains("ann&lt;b&gt;") && !r.html.contains("ann<b>"));
        assert!(!r.text.contains("late"));
        assert!(!r.html.contains("src=") && !r.html.contains("http"));
    }

    #[test]
    fn a_late_code_mail_says_so_and_an_expired_one_hides_the_code() {
        let at = chrono::Utc::now().naive_utc();
        let late = render(&code_mail(at), Lang::Zh, at + chrono::Duration::minutes(4));
        assert!(late.text.contains("123456") && late.text.contains("发送晚了"));
        let expired = render(&code_mail(at), Lang::Zh, at + chrono::Duration::minutes(11));
        assert!(!expired.text.contains("123456") && !expired.html.contains("123456"));
        assert!(expired.text.contains("已于") && expired.subject.contains("验证码"));
    }
}
