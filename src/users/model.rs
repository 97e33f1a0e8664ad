use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{email_codes, users};

/// Internal row id; never leaves the server (the public id is `User::uuid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Admin,
}

impl Role {
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
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub uuid: String,
    pub username: String,
    pub email: String,
    pub role: String,
    pub status: String,
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

/// UTC timestamps as the seed writes them: `2025-10-30T14:10:00Z`.
pub fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
