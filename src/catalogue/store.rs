//! SQL of charges, refunds and budgets; written once for both backends.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::schema::{generation_charges, generations, user_budgets};
use crate::db::DbConn;
use crate::generation::model::TaskStatus;

#[derive(Insertable)]
#[diesel(table_name = generation_charges)]
struct NewCharge<'a> {
    generation_id: i64,
    user_id: i64,
    amount_micros: i64,
    currency: &'a str,
    charged_at: NaiveDateTime,
}

/// Charges each of `tasks` `amount` micros.
pub fn charge(
    conn: &mut DbConn,
    user_id: i64,
    tasks: &[i64],
    amount: i64,
    currency: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    // One row a statement: a submit makes at most four.
    for &generation_id in tasks {
        diesel::insert_into(generation_charges::table)
            .values(NewCharge {
                generation_id,
                user_id,
                amount_micros: amount,
                currency,
                charged_at: now,
            })
            .execute(conn)?;
    }
    Ok(())
}

/// Gives the task's charge back unless it already was: one conditional UPDATE, so of any number
/// of concurrent callers exactly one refunds. True when this call did.
pub fn refund(conn: &mut DbConn, generation_id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        generation_charges::table
            .find(generation_id)
            .filter(generation_charges::refunded_at.is_null()),
    )
    .set(generation_charges::refunded_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

/// Refunds the user's charged tasks that failed or were canceled by any path (another
/// instance, a bulk cancel, a crash between a task's end and its refund).
pub fn refund_ended(conn: &mut DbConn, user_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    let ended = generations::table
        .filter(generations::user_id.eq(user_id))
        .filter(
            generations::status
                .eq_any([TaskStatus::Failed.as_str(), TaskStatus::Canceled.as_str()]),
        )
        .select(generations::id);
    diesel::update(
        generation_charges::table
            .filter(generation_charges::user_id.eq(user_id))
            .filter(generation_charges::refunded_at.is_null())
            .filter(generation_charges::generation_id.eq_any(ended)),
    )
    .set(generation_charges::refunded_at.eq(now))
    .execute(conn)
}

/// Micros the user was charged since `since`, refunds taken off.
pub fn spent_since(conn: &mut DbConn, user_id: i64, since: NaiveDateTime) -> QueryResult<i64> {
    generation_charges::table
        .filter(generation_charges::user_id.eq(user_id))
        .filter(generation_charges::charged_at.ge(since))
        .filter(generation_charges::refunded_at.is_null())
        // SUM of a BIGINT is NUMERIC on PostgreSQL.
        .select(sql::<BigInt>(
            "CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT)",
        ))
        .get_result(conn)
}

/// The user's monthly budget in micros; None: no limit.
pub fn budget(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<i64>> {
    user_budgets::table
        .find(user_id)
        .select(user_budgets::monthly_micros)
        .first(conn)
        .optional()
}

/// Budgets and what each user spent since `since`, for a page of accounts.
pub fn budgets_of(
    conn: &mut DbConn,
    users: &[i64],
    since: NaiveDateTime,
) -> QueryResult<HashMap<i64, (Option<i64>, i64)>> {
    let limits: Vec<(i64, i64)> = user_budgets::table
        .filter(user_budgets::user_id.eq_any(users))
        .select((user_budgets::user_id, user_budgets::monthly_micros))
        .load(conn)?;
    let spent: Vec<(i64, i64)> = generation_charges::table
        .filter(generation_charges::user_id.eq_any(users))
        .filter(generation_charges::charged_at.ge(since))
        .filter(generation_charges::refunded_at.is_null())
        .select((
            generation_charges::user_id,
            generation_charges::amount_micros,
        ))
        .load(conn)?;
    let mut out: HashMap<i64, (Option<i64>, i64)> = HashMap::new();
    for (user, limit) in limits {
        out.entry(user).or_default().0 = Some(limit);
    }
    for (user, amount) in spent {
        out.entry(user).or_default().1 += amount;
    }
    Ok(out)
}

/// Sets (Some) or lifts (None) a user's monthly budget.
pub fn set_budget(
    conn: &mut DbConn,
    user_id: i64,
    micros: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(user_budgets::table.find(user_id)).execute(conn)?;
    if let Some(micros) = micros {
        diesel::insert_into(user_budgets::table)
            .values((
                user_budgets::user_id.eq(user_id),
                user_budgets::monthly_micros.eq(micros),
                user_budgets::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A task's charge: (amount, currency, refunded).
pub type Charge = (i64, String, bool);

/// The charges of these tasks, by task.
pub fn charges_of(conn: &mut DbConn, tasks: &[i64]) -> QueryResult<HashMap<i64, Charge>> {
    let rows: Vec<(i64, i64, String, Option<NaiveDateTime>)> = generation_charges::table
        .filter(generation_charges::generation_id.eq_any(tasks))
        .select((
            generation_charges::generation_id,
            generation_charges::amount_micros,
            generation_charges::currency,
            generation_charges::refunded_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, amount, currency, refunded)| (id, (amount, currency, refunded.is_some())))
        .collect())
}
