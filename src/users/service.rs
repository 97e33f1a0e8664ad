//! Account rules (seed 3.3, 5.3 ①–⑥). Plain types in, plain types out: no actix here.

use std::time::Duration;

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::model::{
    CodePurpose, NewEmailCode, NewSession, NewUserRow, Role, SessionView, Status, User, UserView,
};
use super::store;
use crate::app::AppState;
use crate::audit;
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::mail::{Content, NewMail};
use diesel::Connection as _;

pub const CODE_TTL_MINUTES: i64 = 10;
pub const CODE_MAX_ATTEMPTS: i32 = 5;
pub const CODE_RESEND_SECONDS: i64 = 60;
const ACCOUNT_WINDOW: Duration = Duration::from_secs(15 * 60);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone, Deserialize)]
pub struct Registration {
    pub username: String,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Registered {
    pub username: String,
    pub email: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoggedIn {
    pub username: String,
    /// For `Authorization: Bearer`.
    pub token: String,
    /// UTC, RFC 3339.
    pub token_expire_at: String,
}

/// Where a request came from, for rate limits and the audit log.
#[derive(Debug, Clone)]
pub struct Origin {
    pub ip: String,
    /// Shown in the list of sessions; cut to a sane length.
    pub user_agent: Option<String>,
}

/// Longest user agent kept for the list of sessions.
pub const MAX_USER_AGENT: usize = 200;
/// How often a session's "last seen" is written: not on every request.
const TOUCH_EVERY_SECONDS: i64 = 60;

// ---- validation -------------------------------------------------------------------------
// The document states these same limits (`users::api`), so they are named once here.

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 50;
/// Letters and digits of any script, `_`, `-` and `.` (as Python's Unicode `\w` reads it).
pub const USERNAME_PATTERN: &str = r"^[\w.-]+$";
pub const EMAIL_MAX: usize = 255;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;
/// Letters and an ASCII digit somewhere.
pub const PASSWORD_PATTERN: &str = r"^(?=[\s\S]*[^\W\d_])(?=[\s\S]*[0-9])";
/// Longest password a login or share unlock looks at: bounds the hashing work.
pub const PASSWORD_ANY_MAX: usize = 1024;
pub const CODE_LEN: usize = 6;
pub const CODE_PATTERN: &str = "^[0-9]{6}$";

pub fn validate_username(name: &str) -> AppResult<()> {
    let len = name.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(AppError::invalid("username", "err.username_length"));
    }
    // Letters of any script, digits, and _ - . : names show up in pages and paths.
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(AppError::invalid("username", "err.username_chars"));
    }
    Ok(())
}

/// Trimmed and lower-cased; the stored form of an address.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn validate_email(email: &str, field: &'static str) -> AppResult<()> {
    if email.is_empty() || email.chars().count() > EMAIL_MAX {
        return Err(AppError::invalid(field, "err.email_invalid"));
    }
    let valid = email.parse::<lettre::Address>().is_ok()
        && email
            .split('@')
            .nth(1)
            .is_some_and(|domain| domain.contains('.'));
    if !valid {
        return Err(AppError::invalid(field, "err.email_invalid"));
    }
    Ok(())
}

pub fn validate_password(password: &str, field: &'static str) -> AppResult<()> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(AppError::invalid(field, "err.password_short"));
    }
    if len > PASSWORD_MAX {
        return Err(AppError::invalid(field, "err.password_long"));
    }
    let letters = password.chars().any(char::is_alphabetic);
    let digits = password.chars().any(|c| c.is_ascii_digit());
    if !(letters && digits) {
        return Err(AppError::invalid(field, "err.password_weak"));
    }
    Ok(())
}

fn validate_code(code: &str) -> AppResult<()> {
    if code.len() != CODE_LEN || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::invalid("verification_code", "err.code_format"));
    }
    Ok(())
}

// ---- register and login -----------------------------------------------------------------

pub async fn register(
    state: &AppState,
    input: Registration,
    origin: &Origin,
) -> AppResult<Registered> {
    let user = create_user(state, input, Role::User, Some(origin)).await?;
    Ok(Registered {
        username: user.username,
        email: user.email,
        created_at: rfc(user.created_at),
    })
}

/// Creates an account (registration, or the CLI for the first admin).
pub async fn create_user(
    state: &AppState,
    input: Registration,
    role: Role,
    origin: Option<&Origin>,
) -> AppResult<User> {
    let username = input.username.trim().to_string();
    let email = normalize_email(&input.email);
    validate_username(&username)?;
    validate_email(&email, "email")?;
    validate_password(&input.password, "password")?;
    // The cheap checks come first: a limit per address, then the names; only a registration
    // that can succeed pays for a password hash.
    if let Some(origin) = origin {
        state
            .limiter
            .hit(
                &format!("register-ip:{}", crate::ratelimit::ip_key(&origin.ip)),
                state.config.limits.registrations_per_ip_per_hour,
                HOUR,
            )
            .map_err(|retry_after| AppError::RateLimited { retry_after })?;
    }
    let (name, address) = (username.clone(), email.clone());
    state
        .db
        .run(move |conn| ensure_free(conn, &name, &address))
        .await?;
    let hash = state.passwords.hash(&input.password).await?;
    let quota = state.config.auth.default_daily_quota;
    let ip = origin.map(|o| o.ip.clone());
    state
        .db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            let uuid = uuid::Uuid::new_v4().to_string();
            let row = NewUserRow {
                uuid: &uuid,
                username: &username,
                username_key: &super::model::username_key(&username),
                email: &email,
                password_hash: &hash,
                role: role.as_str(),
                status: Status::Active.as_str(),
                token_version: 0,
                daily_quota: Some(quota),
                created_at: now,
                updated_at: now,
            };
            let user = match store::insert_user(conn, &row) {
                Ok(user) => user,
                // Two registrations raced past the check: report which name the winner took.
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {
                    ensure_free(conn, &username, &email)?;
                    return Err(AppError::client(
                        StatusCode::CONFLICT,
                        401,
                        "err.username_taken",
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            audit::record(conn, Some(user.id()), "register", None, ip.as_deref())?;
            Ok(user)
        })
        .await
}

/// Conflict when the name (in any case or Unicode form) or the address is taken.
fn ensure_free(conn: &mut crate::db::DbConn, username: &str, email: &str) -> AppResult<()> {
    if store::find_by_username(conn, username)?.is_some() {
        return Err(
            AppError::client(StatusCode::CONFLICT, 401, "err.username_taken").on_field("username"),
        );
    }
    if store::find_by_email(conn, email)?.is_some() {
        return Err(
            AppError::client(StatusCode::CONFLICT, 402, "err.email_taken").on_field("email"),
        );
    }
    Ok(())
}

pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
    origin: &Origin,
) -> AppResult<LoggedIn> {
    let username = username.trim().to_string();
    if username.is_empty() || username.chars().count() > USERNAME_MAX {
        return Err(AppError::invalid("username", "err.username_required"));
    }
    if password.is_empty() || password.chars().count() > PASSWORD_ANY_MAX {
        return Err(AppError::invalid("password", "err.password_required"));
    }
    let limits = &state.config.limits;
    state
        .limiter
        .hit(
            &format!("login-ip:{}", crate::ratelimit::ip_key(&origin.ip)),
            limits.login_per_ip_per_minute,
            MINUTE,
        )
        .map_err(|retry_after| AppError::RateLimited { retry_after })?;
    let account_key = format!("login-account:{}", super::model::username_key(&username));
    state
        .limiter
        .allowed(
            &account_key,
            limits.login_failures_per_account,
            ACCOUNT_WINDOW,
        )
        .map_err(|retry_after| AppError::RateLimited { retry_after })?;

    let lookup = username.clone();
    let user = state
        .db
        .run(move |conn| Ok(store::find_by_username(conn, &lookup)?))
        .await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = state.passwords.verify(password, hash).await?;

    let ip = origin.ip.clone();
    let user = match (user, matches) {
        (Some(user), true) => user,
        (user, _) => {
            // Counted only on failure, so the owner is never locked out by logging in often.
            let _ = state.limiter.hit(
                &account_key,
                limits.login_failures_per_account,
                ACCOUNT_WINDOW,
            );
            let id = user.map(|u| u.id());
            state
                .db
                .run(move |conn| Ok(audit::record(conn, id, "login_failed", None, Some(&ip))?))
                .await?;
            return Err(AppError::client(
                StatusCode::UNAUTHORIZED,
                401,
                "err.bad_credentials",
            ));
        }
    };
    if user.is_banned() {
        return Err(user.banned_error());
    }
    state.limiter.clear(&account_key);
    let id = user.id();
    state
        .db
        .run(move |conn| {
            store::set_last_login(conn, id, Utc::now().naive_utc())?;
            Ok(audit::record(conn, Some(id), "login", None, Some(&ip))?)
        })
        .await?;
    issue(state, &user, origin).await
}

/// Opens a session for `user` and signs a token naming it (after a login, or for a trusted
/// in-process caller such as a benchmark).
pub async fn issue(state: &AppState, user: &User, origin: &Origin) -> AppResult<LoggedIn> {
    let now = Utc::now();
    let sid = uuid::Uuid::new_v4().to_string();
    let issued = state
        .tokens
        .issue(user, &sid, now)
        .map_err(|e| AppError::internal(e, "token"))?;
    let (user_id, expires_at) = (user.id, issued.expires_at.naive_utc());
    let (ip, agent) = (origin.ip.clone(), origin.user_agent.clone());
    state
        .db
        .run(move |conn| {
            let now = now.naive_utc();
            store::insert_session(
                conn,
                &NewSession {
                    uuid: &sid,
                    user_id,
                    user_agent: agent.as_deref(),
                    ip: Some(&ip),
                    created_at: now,
                    last_seen_at: now,
                    expires_at,
                },
            )?;
            Ok(())
        })
        .await?;
    Ok(LoggedIn {
        username: user.username.clone(),
        token: issued.token,
        token_expire_at: issued.expires_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
}

/// The account behind a token, if the token is genuine, current and the account may act.
pub async fn authenticate(state: &AppState, token: &str) -> AppResult<User> {
    let claims = state
        .tokens
        .verify(token)
        .ok_or_else(AppError::unauthorized)?;
    state
        .db
        .run(move |conn| {
            let Some(user) = store::find_by_uuid(conn, &claims.sub)? else {
                return Ok(None);
            };
            // A ban is told to the holder of any genuine token of the account, with its
            // reason, though the ban also ended the token's session.
            if user.is_banned() {
                return Err(user.banned_error());
            }
            if user.token_version != claims.ver {
                return Ok(None);
            }
            let now = Utc::now().naive_utc();
            let Some(session) = store::live_session(conn, &claims.sid, user.id, now)? else {
                return Ok(None);
            };
            if (now - session.last_seen_at).num_seconds() >= TOUCH_EVERY_SECONDS {
                store::touch_session(conn, session.id, now)?;
            }
            Ok(Some(user))
        })
        .await?
        .ok_or_else(AppError::unauthorized)
}

/// The reason a page session's account is banned, if it is: the login page shows it to the
/// person a ban bounced there. Only a genuine token of the account tells it.
pub async fn ban_notice(state: &AppState, token: &str) -> AppResult<Option<String>> {
    let Some(claims) = state.tokens.verify(token) else {
        return Ok(None);
    };
    let user = state
        .db
        .run(move |conn| Ok(store::find_by_uuid(conn, &claims.sub)?))
        .await?;
    Ok(user
        .filter(User::is_banned)
        .map(|u| u.ban_reason.unwrap_or_default()))
}

// ---- sessions ---------------------------------------------------------------------------

/// Ends the session a token names; an unknown or forged token has nothing to end.
pub async fn logout(state: &AppState, token: &str) -> AppResult<()> {
    let Some(claims) = state.tokens.verify(token) else {
        return Ok(());
    };
    state
        .db
        .run(move |conn| {
            let Some(user) = store::find_by_uuid(conn, &claims.sub)? else {
                return Ok(());
            };
            let now = Utc::now().naive_utc();
            if store::revoke_session(conn, user.id, &claims.sid, now)? {
                audit::record(conn, Some(user.id()), "logout", None, None)?;
            }
            Ok(())
        })
        .await
}

/// The session id a token names, to mark "this device" in the list.
pub fn session_of(state: &AppState, token: Option<&str>) -> Option<String> {
    token
        .and_then(|t| state.tokens.verify(t))
        .map(|claims| claims.sid)
}

/// The account's live sessions, most recently used first.
pub async fn sessions(
    state: &AppState,
    user: &User,
    current: Option<String>,
) -> AppResult<Vec<SessionView>> {
    let user_id = user.id;
    let rows = state
        .db
        .run(move |conn| {
            Ok(store::sessions_of(
                conn,
                user_id,
                Utc::now().naive_utc(),
                100,
            )?)
        })
        .await?;
    Ok(rows
        .into_iter()
        .map(|s| SessionView {
            current: current.as_deref() == Some(s.uuid.as_str()),
            id: s.uuid,
            user_agent: s.user_agent.unwrap_or_default(),
            ip: s.ip.unwrap_or_default(),
            created_at: rfc(s.created_at),
            last_seen_at: rfc(s.last_seen_at),
        })
        .collect())
}

/// Signs one of the account's sessions out.
pub async fn revoke_session(state: &AppState, user: &User, id: &str) -> AppResult<()> {
    let (user_id, id, now) = (user.id, id.to_string(), Utc::now().naive_utc());
    let ended = state
        .db
        .run(move |conn| Ok(store::revoke_session(conn, user_id, &id, now)?))
        .await?;
    // Someone else's session, or one already ended, is none of this account's.
    ended.then_some(()).ok_or_else(AppError::not_found)
}

/// "Sign out everywhere": every session of the account ends, this one included.
pub async fn revoke_all_sessions(state: &AppState, user: &User, origin: &Origin) -> AppResult<()> {
    let (id, ip) = (user.id(), origin.ip.clone());
    state
        .db
        .run(move |conn| {
            store::revoke_all_sessions(conn, id, Utc::now().naive_utc())?;
            audit::record(conn, Some(id), "sessions_revoked", None, Some(&ip))?;
            Ok(())
        })
        .await
}

// ---- mailed codes -----------------------------------------------------------------------

fn code_hash(state: &AppState, purpose: CodePurpose, email: &str, code: &str) -> String {
    // Keyed, so a leaked table does not give the codes away to a 10^6 brute force.
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.secret).unwrap_or_else(|_| unreachable!());
    mac.update(purpose.as_str().as_bytes());
    mac.update(b"\0");
    mac.update(email.as_bytes());
    mac.update(b"\0");
    mac.update(code.as_bytes());
    crate::storage::hex(&mac.finalize().into_bytes())
}

/// Stores a fresh code for `email` and mails it, at most once per address per minute.
async fn send_code(
    state: &AppState,
    user: &User,
    email: &str,
    purpose: CodePurpose,
    lang: Lang,
) -> AppResult<()> {
    state
        .limiter
        .hit(
            &format!("code-send:{email}"),
            1,
            Duration::from_secs(CODE_RESEND_SECONDS as u64),
        )
        .map_err(|retry_after| AppError::RateLimited { retry_after })?;
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    let hash = code_hash(state, purpose, email, &code);
    let (address, user_id, username) = (email.to_string(), user.id, user.username.clone());
    state
        .db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            // The database remembers sends across restarts and instances; the limiter above
            // only sees this process.
            if let Some(last) = store::last_code_sent_at(conn, &address)? {
                let waited = (now - last).num_seconds();
                if waited < CODE_RESEND_SECONDS {
                    return Err(AppError::RateLimited {
                        retry_after: (CODE_RESEND_SECONDS - waited).max(1) as u64,
                    });
                }
            }
            let expires_at = now + chrono::Duration::minutes(CODE_TTL_MINUTES);
            // The code and its mail commit together; the outbox worker sends the mail.
            conn.transaction(|conn| {
                store::insert_code(
                    conn,
                    &NewEmailCode {
                        email: &address,
                        purpose: purpose.as_str(),
                        user_id,
                        code_hash: &hash,
                        attempts: 0,
                        created_at: now,
                        expires_at,
                    },
                )?;
                let mail = NewMail {
                    to: address.clone(),
                    lang,
                    user_id: Some(user_id),
                    content: Content::Code {
                        topic: purpose.as_str().to_string(),
                        username,
                        code,
                        requested_at: now,
                        expires_at,
                    },
                };
                crate::mail::enqueue(conn, &mail, now)
            })?;
            Ok(())
        })
        .await?;
    state.mailer.wake();
    Ok(())
}

/// Checks a code (limited per address; a wrong one counts against the code) and gives the
/// code's id and account. Nothing is used up yet: see `use_code`.
async fn check_code(
    state: &AppState,
    email: &str,
    code: &str,
    purpose: CodePurpose,
    origin: &Origin,
    wrong: fn() -> AppError,
) -> AppResult<(i64, i64)> {
    state
        .limiter
        .hit(
            &format!("code-check:{}", crate::ratelimit::ip_key(&origin.ip)),
            state.config.limits.code_checks_per_ip_per_minute,
            MINUTE,
        )
        .map_err(|retry_after| AppError::RateLimited { retry_after })?;
    let hash = code_hash(state, purpose, email, code);
    let email = email.to_string();
    state
        .db
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            let Some(live) = store::live_code(conn, &email, purpose, CODE_MAX_ATTEMPTS, now)?
            else {
                return Err(wrong());
            };
            if live.code_hash != hash {
                store::count_failed_attempt(conn, live.id)?;
                return Err(wrong());
            }
            Ok((live.id, live.user_id))
        })
        .await
}

/// Uses up a checked code and every other open one of its address; refuses it when another
/// request used it first.
fn use_code(
    conn: &mut crate::db::DbConn,
    email: &str,
    purpose: CodePurpose,
    code_id: i64,
    wrong: fn() -> AppError,
) -> AppResult<()> {
    if store::consume_codes(conn, email, purpose, code_id, Utc::now().naive_utc())? {
        Ok(())
    } else {
        Err(wrong())
    }
}

// ---- forgot / reset password ------------------------------------------------------------

pub async fn forgot_password(state: &AppState, email: &str, lang: Lang) -> AppResult<()> {
    let email = normalize_email(email);
    validate_email(&email, "email")?;
    let lookup = email.clone();
    let user = state
        .db
        .run(move |conn| Ok(store::find_by_email(conn, &lookup)?))
        .await?
        .ok_or_else(|| {
            AppError::client(StatusCode::NOT_FOUND, 401, "err.email_unknown").on_field("email")
        })?;
    send_code(state, &user, &email, CodePurpose::ResetPassword, lang).await
}

pub async fn reset_password(
    state: &AppState,
    email: &str,
    code: &str,
    new_password: &str,
    origin: &Origin,
) -> AppResult<()> {
    let email = normalize_email(email);
    validate_email(&email, "email")?;
    validate_code(code)?;
    validate_password(new_password, "new_password")?;
    fn wrong() -> AppError {
        AppError::client(StatusCode::UNPROCESSABLE_ENTITY, 401, "err.code_invalid")
            .on_field("verification_code")
    }
    let purpose = CodePurpose::ResetPassword;
    // The code and its limit first: a wrong code costs no password hash.
    let (code_id, user_id) = check_code(state, &email, code, purpose, origin, wrong).await?;
    let hash = state.passwords.hash(new_password).await?;
    let ip = origin.ip.clone();
    state
        .db
        .run(move |conn| {
            use_code(conn, &email, purpose, code_id, wrong)?;
            let id = super::model::UserId(user_id);
            store::set_password(conn, id, &hash, true, Utc::now().naive_utc())?;
            audit::record(conn, Some(id), "password_reset", None, Some(&ip))?;
            Ok(())
        })
        .await
}

// ---- signed-in account changes ----------------------------------------------------------

/// Changes the password; every other token stops working, the caller gets a fresh one.
pub async fn change_password(
    state: &AppState,
    user: &User,
    old_password: &str,
    new_password: &str,
    origin: &Origin,
) -> AppResult<LoggedIn> {
    if old_password.is_empty() {
        return Err(AppError::invalid("old_password", "err.password_required"));
    }
    validate_password(new_password, "new_password")?;
    let account_key = format!(
        "login-account:{}",
        super::model::username_key(&user.username)
    );
    let limit = state.config.limits.login_failures_per_account;
    state
        .limiter
        .allowed(&account_key, limit, ACCOUNT_WINDOW)
        .map_err(|retry_after| AppError::RateLimited { retry_after })?;
    let current = Some(user.password_hash.clone());
    if !state.passwords.verify(old_password, current).await? {
        let _ = state.limiter.hit(&account_key, limit, ACCOUNT_WINDOW);
        return Err(AppError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            401,
            "err.old_password_wrong",
        )
        .on_field("old_password"));
    };
    let hash = state.passwords.hash(new_password).await?;
    let (id, uuid, ip) = (user.id(), user.uuid.clone(), origin.ip.clone());
    let updated = state
        .db
        .run(move |conn| {
            store::set_password(conn, id, &hash, true, Utc::now().naive_utc())?;
            audit::record(conn, Some(id), "password_changed", None, Some(&ip))?;
            Ok(store::find_by_uuid(conn, &uuid)?)
        })
        .await?
        .ok_or_else(AppError::unauthorized)?;
    issue(state, &updated, origin).await
}

fn email_taken() -> AppError {
    AppError::client(StatusCode::CONFLICT, 401, "err.email_taken").on_field("new_email")
}

/// Step one of changing the address: a code goes to the new address (seed 6.1).
pub async fn request_email_change(
    state: &AppState,
    user: &User,
    new_email: &str,
    lang: Lang,
) -> AppResult<()> {
    let email = normalize_email(new_email);
    validate_email(&email, "new_email")?;
    if email == user.email {
        return Err(AppError::invalid("new_email", "err.email_same"));
    }
    let lookup = email.clone();
    if state
        .db
        .run(move |conn| Ok(store::find_by_email(conn, &lookup)?))
        .await?
        .is_some()
    {
        return Err(email_taken());
    }
    send_code(state, user, &email, CodePurpose::ChangeEmail, lang).await
}

/// Step two: the code proves the person reads the new address.
pub async fn change_email(
    state: &AppState,
    user: &User,
    new_email: &str,
    code: &str,
    origin: &Origin,
) -> AppResult<String> {
    let email = normalize_email(new_email);
    validate_email(&email, "new_email")?;
    validate_code(code)?;
    fn wrong() -> AppError {
        AppError::client(StatusCode::UNPROCESSABLE_ENTITY, 403, "err.code_invalid")
            .on_field("verification_code")
    }
    let purpose = CodePurpose::ChangeEmail;
    let (code_id, owner) = check_code(state, &email, code, purpose, origin, wrong).await?;
    // A code mailed for someone else's change is no code for this account.
    if owner != user.id {
        return Err(wrong());
    }
    let (id, old, ip, address) = (
        user.id(),
        user.email.clone(),
        origin.ip.clone(),
        email.clone(),
    );
    state
        .db
        .run(move |conn| {
            use_code(conn, &address, purpose, code_id, wrong)?;
            if store::find_by_email(conn, &address)?.is_some() {
                return Err(email_taken());
            }
            match store::set_email(conn, id, &address, Utc::now().naive_utc()) {
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => return Err(email_taken()),
                other => other?,
            }
            let detail = format!("{old} -> {address}");
            audit::record(conn, Some(id), "email_changed", Some(&detail), Some(&ip))?;
            Ok(())
        })
        .await?;
    Ok(email)
}

// ---- administration (CLI now, admin pages later) ----------------------------------------

pub async fn find_by_username(state: &AppState, username: &str) -> AppResult<User> {
    let name = username.to_string();
    state
        .db
        .run(move |conn| Ok(store::find_by_username(conn, &name)?))
        .await?
        .ok_or_else(AppError::not_found)
}

/// Bans (with an optional reason its owner is shown) or restores an account; a ban ends its
/// sessions at once.
pub async fn set_status(
    state: &AppState,
    user: &User,
    status: Status,
    reason: Option<&str>,
) -> AppResult<()> {
    let id = user.id();
    let reason = reason.map(str::to_string);
    state
        .db
        .run(move |conn| {
            let reason = reason.as_deref().filter(|_| status == Status::Banned);
            store::set_status(conn, id, status.as_str(), reason, Utc::now().naive_utc())?;
            audit::record(conn, Some(id), status.as_str(), reason, None)?;
            Ok(())
        })
        .await?;
    // A banned author's works leave the gallery at once, visitors' stored pages included.
    state.gallery_pages.changed();
    Ok(())
}

pub async fn set_role(state: &AppState, user: &User, role: Role) -> AppResult<()> {
    let id = user.id();
    state
        .db
        .run(move |conn| {
            Ok(store::set_role(
                conn,
                id,
                role.as_str(),
                Utc::now().naive_utc(),
            )?)
        })
        .await
}

/// Sets a password without the old one or a mail: the operator's recovery path.
pub async fn admin_set_password(state: &AppState, user: &User, password: &str) -> AppResult<()> {
    validate_password(password, "password")?;
    let hash = state.passwords.hash(password).await?;
    let id = user.id();
    state
        .db
        .run(move |conn| {
            store::set_password(conn, id, &hash, true, Utc::now().naive_utc())?;
            audit::record(conn, Some(id), "password_set_by_operator", None, None)?;
            Ok(())
        })
        .await
}

pub fn profile(user: &User) -> UserView {
    user.view()
}

fn rfc(t: chrono::NaiveDateTime) -> String {
    let utc: DateTime<Utc> = t.and_utc();
    utc.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert!(validate_username("bob").is_ok());
        assert!(validate_username("小明同学").is_ok());
        assert!(validate_username("ab").is_err());
        assert!(validate_username(&"x".repeat(51)).is_err());
        assert!(validate_username("<script>").is_err());
        assert!(validate_username("a b c").is_err());
    }

    #[test]
    fn passwords_need_letters_and_digits() {
        assert!(validate_password("User@1234", "p").is_ok());
        assert!(validate_password("short1", "p").is_err());
        assert!(validate_password("onlyletters", "p").is_err());
        assert!(validate_password("12345678", "p").is_err());
    }

    #[test]
    fn emails_are_checked_and_normalized() {
        assert_eq!(normalize_email("  Test@Example.COM "), "test@example.com");
        assert!(validate_email("test@example.com", "email").is_ok());
        assert!(validate_email("no-at-sign", "email").is_err());
        assert!(validate_email("a@localhost", "email").is_err());
        assert!(validate_email(&format!("{}@example.com", "a".repeat(250)), "email").is_err());
    }
}
