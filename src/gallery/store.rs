//! SQL for the gallery: publications, their tags, the public list and the social tables.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Bool, Timestamp};

use super::model::{NewPublication, Publication, Sort};
use crate::db::schema::{
    comments, favorites, follows, generations, likes, publication_tags, publications, users,
};
use crate::db::DbConn;
use crate::generation::model::Generation;
use crate::search;
use crate::users::model::{Status, User};

/// Where a page continues: the last card's sort value and its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Published(NaiveDateTime, i64),
    Score(i64, i64),
}

/// The gallery's filters after validation.
#[derive(Debug, Clone)]
pub struct Filter {
    pub keyword: Option<String>,
    pub kind: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub tag: Option<String>,
    pub author: Option<i64>,
    /// Works of the people this user follows.
    pub followed_by: Option<i64>,
    /// Works this user favourited.
    pub favorited_by: Option<i64>,
    pub sort: Sort,
    pub after: Option<After>,
}

impl Filter {
    pub fn new(sort: Sort) -> Self {
        Filter {
            keyword: None,
            kind: None,
            provider: None,
            model: None,
            tag: None,
            author: None,
            followed_by: None,
            favorited_by: None,
            sort,
            after: None,
        }
    }
}

/// A work as the gallery loads it: the publication, its result and its author's name.
pub type Row = (Publication, Generation, String);

/// `%` and `_` typed by people are literal characters, not wildcards.
pub fn like_pattern(keyword: &str) -> String {
    let escaped = keyword
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Public works: published, the result completed and not deleted, the author not banned.
macro_rules! visible_works {
    () => {
        // `+` keeps the joins from driving the query: with SQLite's value statistics (STAT4)
        // the planner otherwise starts some pages from all users or all results and sorts
        // a million rows, where walking the page's own index finds 25 rows in a millisecond.
        publications::table
            .inner_join(
                generations::table
                    .on(generations::id.eq(sql::<BigInt>("+publications.generation_id"))),
            )
            .inner_join(users::table.on(users::id.eq(sql::<BigInt>("+publications.user_id"))))
            .filter(publications::unpublished_at.is_null())
            .filter(generations::deleted_at.is_null())
            .filter(generations::status.eq("completed"))
            .filter(users::status.ne(Status::Banned.as_str()))
    };
}

pub fn list(conn: &mut DbConn, f: &Filter, limit: i64) -> QueryResult<Vec<Row>> {
    let mut query = visible_works!()
        .select((
            Publication::as_select(),
            Generation::as_select(),
            users::username,
        ))
        .limit(limit)
        .into_boxed();
    if let Some(k) = &f.keyword {
        query = query.filter(publications::search_text.like(like_pattern(k)).escape('\\'));
        // The index narrows, the LIKE above decides (see `search`). A keyword of only
        // punctuation has no terms and is searched by the LIKE alone.
        if let Some(q) = search::Query::parse(k, None) {
            query = match search::narrow(conn, search::Index::Works, &q)? {
                search::Narrow::Ids(ids) if ids.is_empty() => return Ok(Vec::new()),
                search::Narrow::Ids(ids) => query.filter(publications::id.eq_any(ids)),
                search::Narrow::Dense => query,
            };
        }
    }
    if let Some(kind) = &f.kind {
        query = query.filter(publications::generation_type.eq(kind.clone()));
    }
    if let Some(provider) = &f.provider {
        query = query.filter(publications::provider.eq(provider.clone()));
    }
    if let Some(model) = &f.model {
        query = query.filter(publications::model.eq(model.clone()));
    }
    if let Some(tag) = &f.tag {
        // As with keywords: a rare tag's works are read by id and sorted; a common tag's are
        // found by walking the page's order and checking each work's tags.
        let tagged = publication_tags::table
            .filter(publication_tags::tag.eq(tag.clone()))
            .select(publication_tags::publication_id)
            .limit(search::CANDIDATES + 1)
            .load::<i64>(conn)?;
        query = if tagged.len() as i64 <= search::CANDIDATES {
            query.filter(publications::id.eq_any(tagged))
        } else {
            query.filter(diesel::dsl::exists(
                publication_tags::table
                    .filter(publication_tags::publication_id.eq(publications::id))
                    .filter(publication_tags::tag.eq(tag.clone())),
            ))
        };
    }
    if let Some(author) = f.author {
        query = query.filter(publications::user_id.eq(author));
    }
    if let Some(follower) = f.followed_by {
        query = query.filter(
            publications::user_id.eq_any(
                follows::table
                    .filter(follows::follower_id.eq(follower))
                    .select(follows::followee_id),
            ),
        );
    }
    if let Some(fan) = f.favorited_by {
        query = query.filter(
            publications::id.eq_any(
                favorites::table
                    .filter(favorites::user_id.eq(fan))
                    .select(favorites::publication_id),
            ),
        );
    }
    // Keysets as row-value comparisons, as in the library (both backends read them by index).
    query = match (f.sort, f.after) {
        (Sort::Newest, after) => {
            if let Some(After::Published(at, id)) = after {
                query = query.filter(
                    sql::<Bool>("(publications.published_at, publications.id) < (")
                        .bind::<Timestamp, _>(at)
                        .sql(", ")
                        .bind::<BigInt, _>(id)
                        .sql(")"),
                );
            }
            query.order((publications::published_at.desc(), publications::id.desc()))
        }
        (Sort::Top, after) => {
            if let Some(After::Score(likes, id)) = after {
                query = query.filter(
                    sql::<Bool>("(publications.like_count, publications.id) < (")
                        .bind::<BigInt, _>(likes)
                        .sql(", ")
                        .bind::<BigInt, _>(id)
                        .sql(")"),
                );
            }
            query.order((publications::like_count.desc(), publications::id.desc()))
        }
        (Sort::Week, after) => {
            if let Some(After::Score(likes, id)) = after {
                query = query.filter(
                    sql::<Bool>("(publications.week_likes, publications.id) < (")
                        .bind::<BigInt, _>(likes)
                        .sql(", ")
                        .bind::<BigInt, _>(id)
                        .sql(")"),
                );
            }
            query.order((publications::week_likes.desc(), publications::id.desc()))
        }
    };
    query.load(conn)
}

/// Other public works with a tag of `id`'s or its model, newest first.
pub fn related(
    conn: &mut DbConn,
    id: i64,
    tags: &[String],
    provider: &str,
    model: &str,
    limit: i64,
) -> QueryResult<Vec<Row>> {
    visible_works!()
        .filter(publications::id.ne(id))
        .filter(
            publications::id
                .eq_any(
                    publication_tags::table
                        .filter(publication_tags::tag.eq_any(tags.to_vec()))
                        .select(publication_tags::publication_id),
                )
                .or(publications::provider
                    .eq(provider.to_string())
                    .and(publications::model.eq(model.to_string()))),
        )
        .order((publications::published_at.desc(), publications::id.desc()))
        .limit(limit)
        .select((
            Publication::as_select(),
            Generation::as_select(),
            users::username,
        ))
        .load(conn)
}

/// A public work by its public id, with its result and author.
pub fn visible(
    conn: &mut DbConn,
    uuid: &str,
) -> QueryResult<Option<(Publication, Generation, User)>> {
    visible_works!()
        .filter(publications::uuid.eq(uuid))
        .select((
            Publication::as_select(),
            Generation::as_select(),
            User::as_select(),
        ))
        .first(conn)
        .optional()
}

pub fn by_uuid(conn: &mut DbConn, uuid: &str) -> QueryResult<Option<Publication>> {
    publications::table
        .filter(publications::uuid.eq(uuid))
        .select(Publication::as_select())
        .first(conn)
        .optional()
}

pub fn by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<Publication>> {
    publications::table
        .find(id)
        .select(Publication::as_select())
        .first(conn)
        .optional()
}

pub fn of_generation(conn: &mut DbConn, generation_id: i64) -> QueryResult<Option<Publication>> {
    publications::table
        .filter(publications::generation_id.eq(generation_id))
        .select(Publication::as_select())
        .first(conn)
        .optional()
}

/// Publishes a result for the first time: its new publication's id, or None when the result
/// already has one (published before, or by a request at the same instant). The insert comes
/// first and runs in a savepoint: of two first publishes, the later waits for the earlier at
/// the unique key and is told so, instead of failing the transaction around it.
pub fn insert_once(conn: &mut DbConn, row: &NewPublication<'_>) -> QueryResult<Option<i64>> {
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(publications::table)
            .values(row)
            .execute(conn)
    });
    match inserted {
        Ok(_) => {
            let id = publications::table
                .filter(publications::uuid.eq(row.uuid))
                .select(publications::id)
                .first(conn)?;
            // The keyword index follows in the same transaction.
            search::index_work(conn, id, row.search_text)?;
            Ok(Some(id))
        }
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// New title, description and prompt choice; `republish_at` puts an unpublished work back.
pub fn update(
    conn: &mut DbConn,
    id: i64,
    row: &NewPublication<'_>,
    republish_at: Option<NaiveDateTime>,
) -> QueryResult<()> {
    diesel::update(publications::table.find(id))
        .set((
            publications::title.eq(row.title),
            publications::description.eq(row.description),
            publications::hide_prompt.eq(row.hide_prompt),
            publications::search_text.eq(row.search_text),
            publications::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    search::index_work(conn, id, row.search_text)?;
    if let Some(at) = republish_at {
        diesel::update(publications::table.find(id))
            .set((
                publications::published_at.eq(at),
                publications::unpublished_at.eq(None::<NaiveDateTime>),
                publications::unpublish_reason.eq(None::<String>),
                publications::unpublished_by.eq(None::<i64>),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Takes a work down; true when it was up.
pub fn unpublish(
    conn: &mut DbConn,
    id: i64,
    by: i64,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        publications::table
            .find(id)
            .filter(publications::unpublished_at.is_null()),
    )
    .set((
        publications::unpublished_at.eq(now),
        publications::unpublish_reason.eq(reason),
        publications::unpublished_by.eq(by),
        publications::updated_at.eq(now),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn set_tags(conn: &mut DbConn, id: i64, tags: &[String]) -> QueryResult<()> {
    diesel::delete(publication_tags::table.filter(publication_tags::publication_id.eq(id)))
        .execute(conn)?;
    // One statement per row: batch inserts do not compile through the multi-backend connection.
    for tag in tags {
        diesel::insert_into(publication_tags::table)
            .values((
                publication_tags::publication_id.eq(id),
                publication_tags::tag.eq(tag),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// (publication id, tag) of each of `ids`, tags in order.
pub fn tags_of(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    publication_tags::table
        .filter(publication_tags::publication_id.eq_any(ids))
        .order((publication_tags::publication_id, publication_tags::tag))
        .select((publication_tags::publication_id, publication_tags::tag))
        .load(conn)
}

/// How many public works `user_id` has.
pub fn count_works(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
    visible_works!()
        .filter(publications::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Adds a like (`like = true`) or favourite; false when there already was one. The count moves
/// in the same transaction, by the statement, so concurrent clicks never lose one.
pub fn add_mark(
    conn: &mut DbConn,
    like: bool,
    id: i64,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        // The insert runs in a savepoint: on PostgreSQL a failed statement spoils the
        // transaction around it.
        let inserted = conn.transaction(|conn| {
            if like {
                diesel::insert_into(likes::table)
                    .values((
                        likes::publication_id.eq(id),
                        likes::user_id.eq(user_id),
                        likes::created_at.eq(now),
                    ))
                    .execute(conn)
            } else {
                diesel::insert_into(favorites::table)
                    .values((
                        favorites::publication_id.eq(id),
                        favorites::user_id.eq(user_id),
                        favorites::created_at.eq(now),
                    ))
                    .execute(conn)
            }
        });
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
        let target = publications::table.find(id);
        if like {
            diesel::update(target)
                .set((
                    publications::like_count.eq(publications::like_count + 1),
                    publications::week_likes.eq(publications::week_likes + 1),
                ))
                .execute(conn)?;
        } else {
            diesel::update(target)
                .set(publications::favorite_count.eq(publications::favorite_count + 1))
                .execute(conn)?;
        }
        Ok(true)
    })
}

/// Takes a like or favourite back; false when there was none.
pub fn remove_mark(
    conn: &mut DbConn,
    like: bool,
    id: i64,
    user_id: i64,
    week_since: NaiveDateTime,
) -> QueryResult<bool> {
    // SQLite's write lock from the start and the work's row locked on PostgreSQL, so two
    // takes-back at once queue instead of failing (SQLITE_BUSY_SNAPSHOT).
    crate::db::write_transaction(conn, |conn| {
        if let DbConn::Pg(pg) = conn {
            publications::table
                .find(id)
                .select(publications::id)
                .for_no_key_update()
                .execute(pg)?;
        }
        // Whether the like counts in the week's figure; read before it goes, and applied only
        // by the one statement that deletes it.
        let this_week = like
            && likes::table
                .find((id, user_id))
                .filter(likes::created_at.ge(week_since))
                .count()
                .get_result::<i64>(conn)?
                > 0;
        let removed = if like {
            diesel::delete(likes::table.find((id, user_id))).execute(conn)?
        } else {
            diesel::delete(favorites::table.find((id, user_id))).execute(conn)?
        };
        if removed == 0 {
            return Ok(false);
        }
        let target = publications::table.find(id);
        if like {
            let week_drop = i64::from(this_week);
            diesel::update(target)
                .set((
                    publications::like_count.eq(publications::like_count - 1),
                    publications::week_likes.eq(publications::week_likes - week_drop),
                ))
                .execute(conn)?;
        } else {
            diesel::update(target)
                .set(publications::favorite_count.eq(publications::favorite_count - 1))
                .execute(conn)?;
        }
        Ok(true)
    })
}

/// Sets every work's week figure to its likes since `since`: the works that had one and the
/// works liked since (both found through indexes), not the whole table. Returns the works set.
pub fn recount_week_likes(conn: &mut DbConn, since: NaiveDateTime) -> QueryResult<usize> {
    let liked_since = likes::table
        .filter(likes::created_at.ge(since))
        .select(likes::publication_id);
    let count = likes::table
        .filter(likes::publication_id.eq(publications::id))
        .filter(likes::created_at.ge(since))
        .count()
        .single_value()
        .assume_not_null();
    diesel::update(
        publications::table.filter(
            publications::week_likes
                .gt(0)
                .or(publications::id.eq_any(liked_since)),
        ),
    )
    .set(publications::week_likes.eq(count))
    .execute(conn)
}

/// Whether `user_id` likes / favourites `id`.
pub fn marks_of(conn: &mut DbConn, id: i64, user_id: i64) -> QueryResult<(bool, bool)> {
    let liked = likes::table
        .find((id, user_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    let saved = favorites::table
        .find((id, user_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    Ok((liked, saved))
}

/// Follows `followee`; false when already following.
pub fn follow(
    conn: &mut DbConn,
    follower: i64,
    followee: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(follows::table)
        .values((
            follows::follower_id.eq(follower),
            follows::followee_id.eq(followee),
            follows::created_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn unfollow(conn: &mut DbConn, follower: i64, followee: i64) -> QueryResult<bool> {
    diesel::delete(follows::table.find((follower, followee)))
        .execute(conn)
        .map(|n| n == 1)
}

pub fn follows(conn: &mut DbConn, follower: i64, followee: i64) -> QueryResult<bool> {
    Ok(follows::table
        .find((follower, followee))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

pub fn follower_count(conn: &mut DbConn, followee: i64) -> QueryResult<i64> {
    follows::table
        .filter(follows::followee_id.eq(followee))
        .count()
        .get_result(conn)
}

#[derive(Debug, Clone, Queryable)]
pub struct CommentRow {
    pub id: i64,
    pub uuid: String,
    pub user_id: i64,
    pub body: String,
    pub created_at: NaiveDateTime,
    pub username: String,
}

pub fn insert_comment(
    conn: &mut DbConn,
    uuid: &str,
    publication_id: i64,
    user_id: i64,
    body: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(comments::table)
        .values((
            comments::uuid.eq(uuid),
            comments::publication_id.eq(publication_id),
            comments::user_id.eq(user_id),
            comments::body.eq(body),
            comments::created_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// A work's comments by people who are not banned, oldest first.
pub fn comments_of(
    conn: &mut DbConn,
    publication_id: i64,
    limit: i64,
) -> QueryResult<Vec<CommentRow>> {
    comments::table
        .inner_join(users::table)
        .filter(comments::publication_id.eq(publication_id))
        .filter(users::status.ne(Status::Banned.as_str()))
        .order(comments::id.asc())
        .limit(limit)
        .select((
            comments::id,
            comments::uuid,
            comments::user_id,
            comments::body,
            comments::created_at,
            users::username,
        ))
        .load(conn)
}

/// A comment and the author of the work it is on: (comment id, commenter, work author, work).
pub fn comment_by_uuid(
    conn: &mut DbConn,
    uuid: &str,
) -> QueryResult<Option<(i64, i64, i64, String)>> {
    comments::table
        .inner_join(publications::table.on(publications::id.eq(comments::publication_id)))
        .filter(comments::uuid.eq(uuid))
        .select((
            comments::id,
            comments::user_id,
            publications::user_id,
            publications::uuid,
        ))
        .first(conn)
        .optional()
}

pub fn delete_comment(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::delete(comments::table.find(id))
        .execute(conn)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_typed_by_people_are_literal() {
        assert_eq!(like_pattern("100%_Cat"), "%100\\%\\_cat%");
        assert_eq!(like_pattern("狐狸"), "%狐狸%");
    }
}
