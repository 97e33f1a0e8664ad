//! One portable schema for SQLite and PostgreSQL: only BigInt, Integer, Text and Timestamp.

diesel::table! {
    users (id) {
        id -> BigInt,
        uuid -> Text,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        status -> Text,
        token_version -> Integer,
        daily_quota -> Nullable<Integer>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    email_codes (id) {
        id -> BigInt,
        email -> Text,
        purpose -> Text,
        user_id -> BigInt,
        code_hash -> Text,
        attempts -> Integer,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        action -> Text,
        detail -> Nullable<Text>,
        ip -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(email_codes -> users (user_id));
diesel::joinable!(audit_log -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, email_codes, audit_log);
