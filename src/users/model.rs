use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{email_codes, sessions, users};

/// Internal row id; never leaves the server (the public id is `User::uuid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Banned,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "active" => Some(Status::Active),
            "banned" => Some(Status::Banned),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Banned => "banned",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub uuid: String,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub status: String,
    pub token_version: i32,
    pub daily_quota: Option<i32>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Why the account is banned, shown to its owner when refused.
    pub ban_reason: Option<String>,
    pub last_login_at: Option<NaiveDateTime>,
}

impl User {
    pub fn id(&self) -> UserId {
        UserId(self.id)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin.as_str()
    }

    pub fn is_banned(&self) -> bool {
        self.status == Status::Banned.as_str()
    }

    /// The refusal a banned account gets, with the reason an admin gave.
    pub fn banned_error(&self) -> crate::error::AppError {
        crate::error::AppError::Banned {
            reason: self.ban_reason.clone().filter(|r| !r.is_empty()),
        }
    }

    pub fn view(&self) -> UserView {
        UserView {
            uuid: self.uuid.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
            role: self.role.clone(),
            status: self.status.clone(),
            created_at: rfc3339(self.created_at),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub uuid: &'a str,
    pub username: &'a str,
    /// `username_key(username)`: what uniqueness and lookups compare.
    pub username_key: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub status: &'a str,
    pub token_version: i32,
    pub daily_quota: Option<i32>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What the API and pages may show of an account.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// The account's public id.
    #[schema(format = Uuid)]
    pub uuid: String,
    pub username: String,
    pub email: String,
    #[schema(schema_with = role_schema)]
    pub role: String,
    #[schema(schema_with = status_schema)]
    pub status: String,
    /// UTC, RFC 3339.
    pub created_at: String,
}

/// Why a mailed code was issued; a code is only good for its own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    ResetPassword,
    ChangeEmail,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::ResetPassword => "reset_password",
            CodePurpose::ChangeEmail => "change_email",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_codes)]
pub struct EmailCode {
    pub id: i64,
    pub email: String,
    pub purpose: String,
    pub user_id: i64,
    pub code_hash: String,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub consumed_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = email_codes)]
pub struct NewEmailCode<'a> {
    pub email: &'a str,
    pub purpose: &'a str,
    pub user_id: i64,
    pub code_hash: &'a str,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// One sign-in of an account; its token carries `uuid`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub uuid: &'a str,
    pub user_id: i64,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

fn role_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some([Role::User.as_str(), Role::Admin.as_str()]))
        .build()
}

fn status_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some([Status::Active.as_str(), Status::Banned.as_str()]))
        .build()
}

/// What the profile page and the API show of a session.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: String,
    pub user_agent: String,
    pub ip: String,
    pub created_at: String,
    pub last_seen_at: String,
    /// The session making this request.
    pub current: bool,
}

/// The form two names are compared in: Unicode NFKC of the case-folded NFKC (so "Ölaf",
/// "ölaf" and "ÖLAF" are one name on every backend, whatever its `lower()` does).
pub fn username_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let composed: String = name.nfkc().collect();
    caseless::default_case_fold_str(&composed).nfkc().collect()
}

/// UTC timestamps as the seed writes them: `2025-10-30T14:10:00Z`.
pub fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::username_key;

    #[test]
    fn names_compare_by_nfkc_and_case_fold() {
        assert_eq!(username_key("Ölaf"), username_key("ölaf"));
        assert_eq!(username_key("ÖLAF"), username_key("o\u{308}laf"));
        assert_eq!(username_key("Straße"), username_key("STRASSE"));
        assert_eq!(username_key("Ｂｏｂ"), "bob");
        assert_ne!(username_key("olaf"), username_key("ölaf"));
    }
}
