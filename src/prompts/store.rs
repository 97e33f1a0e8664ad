//! SQL of the prompt area: a person's templates, and their prompt history read from their own
//! tasks.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, max};
use diesel::prelude::*;

use super::model::{NewTemplateRow, TemplateRow};
use crate::db::schema::{generations, prompt_templates};
use crate::db::DbConn;
use crate::users::store::lower;

pub fn templates(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<TemplateRow>> {
    prompt_templates::table
        .filter(prompt_templates::user_id.eq(user_id))
        .order(prompt_templates::name.asc())
        .select(TemplateRow::as_select())
        .load(conn)
}

pub fn count(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
    prompt_templates::table
        .filter(prompt_templates::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

/// One of `user_id`'s templates; another person's is as absent as one that never was.
pub fn template(conn: &mut DbConn, user_id: i64, uuid: &str) -> QueryResult<Option<TemplateRow>> {
    prompt_templates::table
        .filter(prompt_templates::user_id.eq(user_id))
        .filter(prompt_templates::uuid.eq(uuid))
        .select(TemplateRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut DbConn, row: &NewTemplateRow<'_>) -> QueryResult<TemplateRow> {
    diesel::insert_into(prompt_templates::table)
        .values(row)
        .execute(conn)?;
    prompt_templates::table
        .filter(prompt_templates::uuid.eq(row.uuid))
        .select(TemplateRow::as_select())
        .first(conn)
}

pub fn update(
    conn: &mut DbConn,
    id: i64,
    name: &str,
    body: &str,
    negative_prompt: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(prompt_templates::table.find(id))
        .set((
            prompt_templates::name.eq(name),
            prompt_templates::body.eq(body),
            prompt_templates::negative_prompt.eq(negative_prompt),
            prompt_templates::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::delete(prompt_templates::table.find(id)).execute(conn)?;
    Ok(())
}

/// One line of the history: a prompt, its newest task's id and how many tasks used it.
pub struct Used {
    pub prompt: String,
    pub last_id: i64,
    pub uses: i64,
}

/// `user_id`'s distinct prompts (of tasks not deleted), newest use first, those last used
/// before task `before` only, holding `pattern` (a lower-cased LIKE pattern) if given.
pub fn history(
    conn: &mut DbConn,
    user_id: i64,
    pattern: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Used>> {
    let mut query = generations::table
        .filter(generations::user_id.eq(user_id))
        .filter(generations::deleted_at.is_null())
        .filter(generations::prompt.is_not_null())
        .filter(generations::prompt.ne(""))
        .group_by(generations::prompt)
        .select((
            generations::prompt.assume_not_null(),
            max(generations::id).assume_not_null(),
            count_star(),
        ))
        .order(max(generations::id).desc())
        .limit(limit)
        .into_boxed();
    if let Some(pattern) = pattern {
        query = query.filter(
            lower(generations::prompt.assume_not_null())
                .like(pattern.to_string())
                .escape('\\'),
        );
    }
    if let Some(before) = before {
        query = query.having(max(generations::id).lt(before));
    }
    Ok(query
        .load::<(String, i64, i64)>(conn)?
        .into_iter()
        .map(|(prompt, last_id, uses)| Used {
            prompt,
            last_id,
            uses,
        })
        .collect())
}

/// The public id and submit time of each of `ids` (tasks of `user_id`).
pub fn tasks(
    conn: &mut DbConn,
    user_id: i64,
    ids: &[i64],
) -> QueryResult<Vec<(i64, String, NaiveDateTime)>> {
    generations::table
        .filter(generations::user_id.eq(user_id))
        .filter(generations::id.eq_any(ids))
        .select((generations::id, generations::uuid, generations::created_at))
        .load(conn)
}

/// The row id of `user_id`'s task `uuid`: a history cursor is a task of yours.
pub fn task_id(conn: &mut DbConn, user_id: i64, uuid: &str) -> QueryResult<Option<i64>> {
    generations::table
        .filter(generations::user_id.eq(user_id))
        .filter(generations::uuid.eq(uuid))
        .select(generations::id)
        .first(conn)
        .optional()
}
