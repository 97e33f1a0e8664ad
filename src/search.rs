//! Keyword search by index, for the gallery's works and the library's results (issue 12 item 6).
//!
//! Both backends index the same *terms*, made here rather than by a database tokenizer, so the
//! two agree and Chinese needs no extension: every run of letters and digits is one lower-cased
//! word, and in Chinese, Japanese and Korean text every character and every pair of neighbouring
//! characters is a term. A 1-character query (狐) is then one term, a 2-character query (狐狸)
//! one term too, and a longer one all of its pairs. SQLite keeps the terms in FTS5 tables,
//! PostgreSQL in GIN-indexed tsvectors (migration `2026-12-01-000901_search`).
//!
//! The index narrows; the store's `LIKE` on the text still decides, so a work is found exactly
//! when its text contains the keyword *and* the index says every query term is there. That
//! means a Latin word of the query must start a word of the text (`cat` finds "cats" and
//! "category", not "concatenate"), which a word index cannot avoid; Chinese matches anywhere.
//!
//! A result's terms carry its owner (`u42x猫`), so one user's search reads only their entries
//! however large the instance is.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::schema::{generation_search, generations, publication_search, publications};
use crate::db::DbConn;

/// Longer words are cut here, in the text and in queries alike (a cut query word is a prefix).
const MAX_WORD: usize = 48;

/// With at most this many matches, the list reads them by id; with more, the matches are
/// dense enough that walking the list's own order and checking each row ends sooner.
pub const CANDIDATES: i64 = 2000;

/// Which index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// The gallery's works (`publication_search`, keyed by publication id).
    Works,
    /// The library's results (`generation_search`, keyed by generation id, terms per owner).
    Results,
}

/// Han, kana and Hangul: no spaces between words, so they are indexed by characters and pairs.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF // hiragana, katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0x20000..=0x3134F // CJK extensions B to G
    )
}

#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Word(String),
    Cjk(Vec<char>),
}

/// The text as words and runs of CJK characters, lower-cased; everything else separates.
fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut run = Vec::new();
    let flush = |out: &mut Vec<Piece>, word: &mut String, run: &mut Vec<char>| {
        if !word.is_empty() {
            out.push(Piece::Word(word.chars().take(MAX_WORD).collect()));
            word.clear();
        }
        if !run.is_empty() {
            out.push(Piece::Cjk(std::mem::take(run)));
        }
    };
    for c in text.chars().flat_map(char::to_lowercase) {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(Piece::Word(word.chars().take(MAX_WORD).collect()));
                word.clear();
            }
            run.push(c);
        } else if c.is_alphanumeric() {
            if !run.is_empty() {
                out.push(Piece::Cjk(std::mem::take(&mut run)));
            }
            word.push(c);
        } else {
            flush(&mut out, &mut word, &mut run);
        }
    }
    flush(&mut out, &mut word, &mut run);
    out
}

fn owner_prefix(owner: Option<i64>) -> String {
    owner.map(|id| format!("u{id}x")).unwrap_or_default()
}

/// The terms to index for `text`, space-separated, each once; `owner` scopes them to a user.
pub fn terms(text: &str, owner: Option<i64>) -> String {
    let mut set = BTreeSet::new();
    for piece in pieces(text) {
        match piece {
            Piece::Word(w) => {
                set.insert(w);
            }
            Piece::Cjk(run) => {
                for (i, c) in run.iter().enumerate() {
                    set.insert(c.to_string());
                    if let Some(next) = run.get(i + 1) {
                        set.insert(format!("{c}{next}"));
                    }
                }
            }
        }
    }
    let prefix = owner_prefix(owner);
    set.into_iter()
        .map(|t| format!("{prefix}{t}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A keyword as index terms: (term, matches as a prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    terms: Vec<(String, bool)>,
}

impl Query {
    /// None when the keyword has no letter, digit or CJK character (`%`): the caller then
    /// searches without the index.
    pub fn parse(keyword: &str, owner: Option<i64>) -> Option<Query> {
        let prefix = owner_prefix(owner);
        let mut terms = Vec::new();
        for piece in pieces(keyword) {
            match piece {
                Piece::Word(w) => terms.push((format!("{prefix}{w}"), true)),
                Piece::Cjk(run) if run.len() == 1 => {
                    terms.push((format!("{prefix}{}", run[0]), false))
                }
                Piece::Cjk(run) => {
                    for pair in run.windows(2) {
                        terms.push((format!("{prefix}{}{}", pair[0], pair[1]), false));
                    }
                }
            }
        }
        terms.dedup();
        (!terms.is_empty()).then_some(Query { terms })
    }

    /// FTS5 syntax: `"u1xcat"* AND "狐狸"`.
    fn fts5(&self) -> String {
        self.terms
            .iter()
            .map(|(t, prefix)| {
                let quoted = format!("\"{}\"", t.replace('"', "\"\""));
                if *prefix {
                    quoted + "*"
                } else {
                    quoted
                }
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// tsquery syntax: `'u1xcat':* & '狐狸'`. Terms hold only letters and digits.
    fn tsquery(&self) -> String {
        self.terms
            .iter()
            .map(|(t, prefix)| {
                let quoted = format!("'{}'", t.replace('\'', "''").replace('\\', "\\\\"));
                if *prefix {
                    quoted + ":*"
                } else {
                    quoted
                }
            })
            .collect::<Vec<_>>()
            .join(" & ")
    }

    fn text_for(&self, conn: &DbConn) -> String {
        match conn {
            DbConn::Sqlite(_) => self.fts5(),
            DbConn::Pg(_) => self.tsquery(),
        }
    }
}

/// What the index says about a query, for the list to use.
#[derive(Debug)]
pub enum Narrow {
    /// All the matching ids (at most `CANDIDATES`).
    Ids(Vec<i64>),
    /// More than that: keep the rows for which `sql(head).bind::<Text>(query).sql(tail)` holds.
    Many {
        head: &'static str,
        query: String,
        tail: &'static str,
    },
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Narrows a list to what matches `q`: the ids when they are few, else a per-row condition.
pub fn narrow(conn: &mut DbConn, index: Index, q: &Query) -> QueryResult<Narrow> {
    let text = q.text_for(conn);
    // Both backends differ here only: FTS5's MATCH on SQLite, a GIN-indexed tsvector on
    // PostgreSQL.
    let ids: Vec<IdRow> = match (&mut *conn, index) {
        (DbConn::Sqlite(c), Index::Works) => diesel::sql_query(
            "SELECT rowid AS id FROM publication_fts WHERE publication_fts MATCH ? LIMIT ?",
        )
        .bind::<Text, _>(&text)
        .bind::<BigInt, _>(CANDIDATES + 1)
        .load(c)?,
        (DbConn::Sqlite(c), Index::Results) => diesel::sql_query(
            "SELECT rowid AS id FROM generation_fts WHERE generation_fts MATCH ? LIMIT ?",
        )
        .bind::<Text, _>(&text)
        .bind::<BigInt, _>(CANDIDATES + 1)
        .load(c)?,
        (DbConn::Pg(c), Index::Works) => diesel::sql_query(
            "SELECT publication_id AS id FROM publication_search \
             WHERE vector @@ to_tsquery('simple', $1) LIMIT $2",
        )
        .bind::<Text, _>(&text)
        .bind::<BigInt, _>(CANDIDATES + 1)
        .load(c)?,
        (DbConn::Pg(c), Index::Results) => diesel::sql_query(
            "SELECT generation_id AS id FROM generation_search \
             WHERE vector @@ to_tsquery('simple', $1) LIMIT $2",
        )
        .bind::<Text, _>(&text)
        .bind::<BigInt, _>(CANDIDATES + 1)
        .load(c)?,
    };
    if ids.len() as i64 <= CANDIDATES {
        return Ok(Narrow::Ids(ids.into_iter().map(|r| r.id).collect()));
    }
    let head = match (&*conn, index) {
        // Per row, so the list walks its own order and stops at a page (FTS5 seeks the row
        // in the match); an `IN (…)` would first read every match of a common word.
        (DbConn::Sqlite(_), Index::Works) => {
            "EXISTS (SELECT 1 FROM publication_fts WHERE publication_fts.rowid = publications.id \
             AND publication_fts MATCH "
        }
        (DbConn::Sqlite(_), Index::Results) => {
            "EXISTS (SELECT 1 FROM generation_fts WHERE generation_fts.rowid = generations.id \
             AND generation_fts MATCH "
        }
        (DbConn::Pg(_), Index::Works) => {
            "EXISTS (SELECT 1 FROM publication_search s WHERE s.publication_id = publications.id \
             AND s.vector @@ to_tsquery('simple', "
        }
        (DbConn::Pg(_), Index::Results) => {
            "EXISTS (SELECT 1 FROM generation_search s WHERE s.generation_id = generations.id \
             AND s.vector @@ to_tsquery('simple', "
        }
    };
    let tail = match &*conn {
        DbConn::Sqlite(_) => ")",
        DbConn::Pg(_) => "))",
    };
    Ok(Narrow::Many {
        head,
        query: text,
        tail,
    })
}

/// Sets the terms of a work from its search text (on publish and on every edit).
pub fn index_work(conn: &mut DbConn, publication_id: i64, search_text: &str) -> QueryResult<()> {
    diesel::delete(publication_search::table.find(publication_id)).execute(conn)?;
    diesel::insert_into(publication_search::table)
        .values((
            publication_search::publication_id.eq(publication_id),
            publication_search::terms.eq(terms(search_text, None)),
        ))
        .execute(conn)
        .map(drop)
}

/// Indexes a new result's prompt for its owner's library search.
pub fn index_result(
    conn: &mut DbConn,
    generation_id: i64,
    owner: i64,
    prompt: Option<&str>,
) -> QueryResult<()> {
    let Some(prompt) = prompt.filter(|p| !p.trim().is_empty()) else {
        return Ok(());
    };
    diesel::insert_into(generation_search::table)
        .values((
            generation_search::generation_id.eq(generation_id),
            generation_search::terms.eq(terms(prompt, Some(owner))),
        ))
        .execute(conn)
        .map(drop)
}

/// Indexes what was there before the index (run once, right after its migration).
pub fn backfill(conn: &mut DbConn) -> QueryResult<usize> {
    let mut done = 0;
    loop {
        let works: Vec<(i64, String)> = publications::table
            .filter(diesel::dsl::not(diesel::dsl::exists(
                publication_search::table
                    .filter(publication_search::publication_id.eq(publications::id)),
            )))
            .select((publications::id, publications::search_text))
            .limit(500)
            .load(conn)?;
        if works.is_empty() {
            break;
        }
        conn.transaction(|conn| {
            for (id, text) in &works {
                index_work(conn, *id, text)?;
            }
            QueryResult::Ok(())
        })?;
        done += works.len();
    }
    loop {
        let results: Vec<(i64, i64, Option<String>)> = generations::table
            .filter(generations::prompt.is_not_null())
            .filter(generations::prompt.ne(""))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                generation_search::table
                    .filter(generation_search::generation_id.eq(generations::id)),
            )))
            .select((generations::id, generations::user_id, generations::prompt))
            .limit(500)
            .load(conn)?;
        if results.is_empty() {
            break;
        }
        conn.transaction(|conn| {
            for (id, owner, prompt) in &results {
                index_result(conn, *id, *owner, prompt.as_deref())?;
            }
            QueryResult::Ok(())
        })?;
        done += results.len();
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_indexed_by_characters_and_pairs_and_words_whole() {
        assert_eq!(
            terms("红狐狸 A Red-FOX, 2024!", None),
            "2024 a fox red 狐 狐狸 狸 红 红狐"
        );
        assert_eq!(terms("猫", Some(7)), "u7x猫");
        assert_eq!(terms("%_ ，。", None), "");
    }

    #[test]
    fn queries_become_prefixed_words_and_exact_pairs() {
        let q = Query::parse("狐", None).map(|q| q.fts5());
        assert_eq!(q.as_deref(), Some("\"狐\""));
        let q = Query::parse("狐狸", None).map(|q| q.tsquery());
        assert_eq!(q.as_deref(), Some("'狐狸'"));
        let q = Query::parse("雪地狐 Cat", Some(3)).map(|q| q.fts5());
        assert_eq!(
            q.as_deref(),
            Some("\"u3x雪地\" AND \"u3x地狐\" AND \"u3xcat\"*")
        );
        let q = Query::parse("100%_c", None).map(|q| q.tsquery());
        assert_eq!(q.as_deref(), Some("'100':* & 'c':*"));
        assert_eq!(Query::parse("% _", None), None);
    }

    #[test]
    fn every_query_of_a_text_finds_its_own_terms() {
        let text = "一只红狐狸在雪地里 running fast";
        let indexed: BTreeSet<String> = terms(text, None).split(' ').map(String::from).collect();
        for keyword in ["狐", "狐狸", "红狐狸在", "run", "雪地里 fa"] {
            let q = Query::parse(keyword, None).expect(keyword);
            for (t, prefix) in &q.terms {
                assert!(
                    indexed.iter().any(|i| if *prefix {
                        i.starts_with(t.as_str())
                    } else {
                        i == t
                    }),
                    "{keyword}: {t}"
                );
            }
        }
    }
}
