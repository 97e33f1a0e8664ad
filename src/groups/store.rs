//! SQL for groups and their items, written once for both backends.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{NewItem, NewTaskGroup, TaskGroup};
use crate::db::schema::{generations, task_group_items, task_groups};
use crate::db::DbConn;
use crate::generation::model::Generation;

/// The group and one item per task, in the order given.
pub fn insert(
    conn: &mut DbConn,
    row: &NewTaskGroup<'_>,
    tasks: &[&Generation],
) -> QueryResult<TaskGroup> {
    diesel::insert_into(task_groups::table)
        .values(row)
        .execute(conn)?;
    let group = task_groups::table
        .filter(task_groups::uuid.eq(row.uuid))
        .select(TaskGroup::as_select())
        .first::<TaskGroup>(conn)?;
    // One row at a time: the multi-backend connection has no batch insert (SQLite lacks
    // DEFAULT in VALUES); it is one transaction all the same.
    for (i, g) in tasks.iter().enumerate() {
        diesel::insert_into(task_group_items::table)
            .values(NewItem {
                group_id: group.id,
                position: i as i32,
                generation_id: g.id,
            })
            .execute(conn)?;
    }
    Ok(group)
}

/// A group of this user that is not deleted; another user's id reads as missing.
pub fn find_owned(conn: &mut DbConn, user_id: i64, uuid: &str) -> QueryResult<Option<TaskGroup>> {
    task_groups::table
        .filter(task_groups::uuid.eq(uuid))
        .filter(task_groups::user_id.eq(user_id))
        .filter(task_groups::deleted_at.is_null())
        .select(TaskGroup::as_select())
        .first(conn)
        .optional()
}

/// The items of a group with their tasks (deleted ones too), in order.
pub fn items(conn: &mut DbConn, group_id: i64) -> QueryResult<Vec<(i32, Generation)>> {
    task_group_items::table
        .inner_join(generations::table)
        .filter(task_group_items::group_id.eq(group_id))
        .order(task_group_items::position)
        .select((task_group_items::position, Generation::as_select()))
        .load(conn)
}

/// The item of the group whose task is `task_uuid`, if it has one.
pub fn item_of(
    conn: &mut DbConn,
    group_id: i64,
    task_uuid: &str,
) -> QueryResult<Option<(i32, Generation)>> {
    task_group_items::table
        .inner_join(generations::table)
        .filter(task_group_items::group_id.eq(group_id))
        .filter(generations::uuid.eq(task_uuid))
        .select((task_group_items::position, Generation::as_select()))
        .first(conn)
        .optional()
}

/// The user's groups, newest first, optionally of one kind.
pub fn list(
    conn: &mut DbConn,
    user_id: i64,
    kind: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<TaskGroup>> {
    let mut query = task_groups::table
        .filter(task_groups::user_id.eq(user_id))
        .filter(task_groups::deleted_at.is_null())
        .order(task_groups::id.desc())
        .limit(limit)
        .select(TaskGroup::as_select())
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(task_groups::kind.eq(kind.to_string()));
    }
    query.load(conn)
}

/// (group, task status, task deleted) of every item of `groups`.
pub fn item_states(
    conn: &mut DbConn,
    groups: &[i64],
) -> QueryResult<Vec<(i64, String, Option<NaiveDateTime>)>> {
    task_group_items::table
        .inner_join(generations::table)
        .filter(task_group_items::group_id.eq_any(groups))
        .select((
            task_group_items::group_id,
            generations::status,
            generations::deleted_at,
        ))
        .load(conn)
}

/// Points the item at `position` at another task (a retry's).
pub fn repoint(
    conn: &mut DbConn,
    group_id: i64,
    position: i32,
    generation_id: i64,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        task_group_items::table
            .filter(task_group_items::group_id.eq(group_id))
            .filter(task_group_items::position.eq(position)),
    )
    .set(task_group_items::generation_id.eq(generation_id))
    .execute(conn)?;
    diesel::update(task_groups::table.find(group_id))
        .set(task_groups::updated_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Removes the group from the list; its tasks stay in the library.
pub fn delete(conn: &mut DbConn, group_id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(task_groups::table.find(group_id))
        .set((
            task_groups::deleted_at.eq(now),
            task_groups::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
