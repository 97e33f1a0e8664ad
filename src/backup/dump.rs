//! The database half of a backup: every table of ours written as JSON lines from ONE read
//! snapshot, in a form either backend loads (so SQLite → PostgreSQL is a restore).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use diesel::connection::DefaultLoadingMode;
use diesel::pg::{PgConnection, PgRowByRowLoadingMode};
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::catalog::{self, quote, Kind, Table};
use super::TableEntry;
use crate::db::DbConn;

/// What the snapshot held.
pub struct Dumped {
    pub schema_version: String,
    pub migrations: Vec<String>,
    pub tables: Vec<TableEntry>,
    /// Every object key a row names (columns named `*_path` hold storage keys).
    pub referenced: BTreeSet<String>,
}

#[derive(QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Text)]
    j: String,
}

/// Writes `db/<table>.jsonl` under `dir` for every table, all read in one snapshot: on
/// SQLite one read transaction (WAL keeps writers going beside it), on PostgreSQL one
/// REPEATABLE READ READ ONLY transaction.
pub fn dump(conn: &mut DbConn, dir: &Path) -> anyhow::Result<Dumped> {
    std::fs::create_dir_all(dir.join("db"))
        .with_context(|| format!("cannot create {}", dir.join("db").display()))?;
    match conn {
        DbConn::Sqlite(c) => c.transaction(|c| dump_from(c, dir)),
        DbConn::Pg(c) => c
            .build_transaction()
            .repeatable_read()
            .read_only()
            .run(|c| dump_from(c, dir)),
    }
}

/// What a snapshot is read through, per backend.
trait Source {
    fn tables(&mut self) -> diesel::QueryResult<Vec<Table>>;
    /// A query giving each row of `table` as one JSON object text in a column `j`.
    fn rows_sql(table: &Table) -> String;
    /// Calls `f` with each row of `sql`, one at a time: neither backend holds a whole table in
    /// memory (PostgreSQL in single-row mode, SQLite stepping its statement).
    fn each_row(
        &mut self,
        sql: String,
        f: &mut dyn FnMut(String) -> anyhow::Result<()>,
    ) -> anyhow::Result<()>;
    fn migrations(&mut self) -> diesel::QueryResult<Vec<String>>;
}

const MIGRATIONS_SQL: &str = "SELECT version AS j FROM __diesel_schema_migrations ORDER BY version";

impl Source for SqliteConnection {
    fn tables(&mut self) -> diesel::QueryResult<Vec<Table>> {
        catalog::sqlite_tables(self)
    }

    fn rows_sql(table: &Table) -> String {
        let pairs: Vec<String> = table
            .columns
            .iter()
            .map(|col| format!("'{}', {}", col.name.replace('\'', "''"), quote(&col.name)))
            .collect();
        format!(
            "SELECT json_object({}) AS j FROM {}",
            pairs.join(", "),
            quote(&table.name)
        )
    }

    fn each_row(
        &mut self,
        sql: String,
        f: &mut dyn FnMut(String) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        for row in diesel::sql_query(sql).load_iter::<JsonRow, DefaultLoadingMode>(self)? {
            f(row?.j)?;
        }
        Ok(())
    }

    fn migrations(&mut self) -> diesel::QueryResult<Vec<String>> {
        let rows: Vec<JsonRow> = diesel::sql_query(MIGRATIONS_SQL).load(self)?;
        Ok(rows.into_iter().map(|r| r.j).collect())
    }
}

impl Source for PgConnection {
    fn tables(&mut self) -> diesel::QueryResult<Vec<Table>> {
        catalog::pg_tables(self)
    }

    fn rows_sql(table: &Table) -> String {
        let cols: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
        format!(
            "SELECT row_to_json(x)::text AS j FROM (SELECT {} FROM {}) x",
            cols.join(", "),
            quote(&table.name)
        )
    }

    fn each_row(
        &mut self,
        sql: String,
        f: &mut dyn FnMut(String) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        for row in diesel::sql_query(sql).load_iter::<JsonRow, PgRowByRowLoadingMode>(self)? {
            f(row?.j)?;
        }
        Ok(())
    }

    fn migrations(&mut self) -> diesel::QueryResult<Vec<String>> {
        let rows: Vec<JsonRow> = diesel::sql_query(MIGRATIONS_SQL).load(self)?;
        Ok(rows.into_iter().map(|r| r.j).collect())
    }
}

fn dump_from<C: Source>(c: &mut C, dir: &Path) -> anyhow::Result<Dumped> {
    let migrations = c.migrations()?;
    let tables = c.tables()?;
    let mut referenced = BTreeSet::new();
    let mut entries = Vec::with_capacity(tables.len());
    for table in &tables {
        let file = format!("db/{}.jsonl", table.name);
        let path = dir.join(&file);
        let out = std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = Hashing::new(std::io::BufWriter::with_capacity(1 << 16, out));
        let mut rows = 0u64;
        c.each_row(C::rows_sql(table), &mut |json| {
            let row = portable_row(table, &json, &mut referenced)?;
            serde_json::to_writer(&mut out, &row)?;
            out.write_all(b"\n")?;
            rows += 1;
            Ok(())
        })
        .with_context(|| format!("cannot read table {}", table.name))?;
        let (_, bytes, sha256) = out
            .finish()
            .with_context(|| format!("cannot write {}", path.display()))?;
        entries.push(TableEntry {
            name: table.name.clone(),
            file,
            rows,
            bytes,
            sha256,
            columns: table.columns.clone(),
        });
    }
    Ok(Dumped {
        schema_version: migrations.last().cloned().unwrap_or_default(),
        migrations,
        tables: entries,
        referenced,
    })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Whether a row of the live database still names `key` (in any `*_path` column): an object
/// missing from a backup is fine only if its row was deleted after the snapshot.
pub fn still_referenced(conn: &mut DbConn, key: &str) -> anyhow::Result<bool> {
    let tables = catalog::tables(conn)?;
    for t in &tables {
        for col in t.columns.iter().filter(|c| holds_object_key(&c.name)) {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM {} WHERE {} = {}",
                quote(&t.name),
                quote(&col.name),
                sql_string(key)
            );
            let found: Vec<Count> = match conn {
                DbConn::Sqlite(c) => diesel::sql_query(sql).load(c)?,
                DbConn::Pg(c) => diesel::sql_query(sql).load(c)?,
            };
            if found.first().is_some_and(|c| c.n > 0) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// A SQL string literal. Only storage keys come here, which hold `[A-Za-z0-9/._-]` alone.
fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The naming rule that says a column holds a storage key.
pub fn holds_object_key(column: &str) -> bool {
    column.ends_with("_path")
}

/// A timestamp as the backup writes it, whichever backend wrote it (`2026-12-01T10:55:44.5`).
pub fn canonical_timestamp(s: &str) -> Option<String> {
    parse_timestamp(s).map(|t| t.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
}

pub fn parse_timestamp(s: &str) -> Option<chrono::NaiveDateTime> {
    let s = s.trim_end_matches('Z');
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
}

/// One row as the backup holds it: timestamps canonical; the `*_path` keys noted.
fn portable_row(
    table: &Table,
    json: &str,
    referenced: &mut BTreeSet<String>,
) -> anyhow::Result<Map<String, Value>> {
    let mut row: Map<String, Value> = serde_json::from_str(json)
        .with_context(|| format!("a row of {} is not JSON", table.name))?;
    for col in &table.columns {
        match row.get_mut(&col.name) {
            Some(Value::String(s)) if col.kind == Kind::Timestamp => {
                if let Some(t) = canonical_timestamp(s) {
                    *s = t;
                }
            }
            Some(Value::String(s)) if holds_object_key(&col.name) => {
                referenced.insert(s.clone());
            }
            _ => {}
        }
    }
    Ok(row)
}

/// A writer that counts and hashes what passes through it.
pub struct Hashing<W> {
    inner: W,
    hash: Sha256,
    pub bytes: u64,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    /// Flushes; returns the inner writer, the byte count and the SHA-256 in hex.
    pub fn finish(mut self) -> std::io::Result<(W, u64, String)> {
        self.inner.flush()?;
        let hex = self
            .hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((self.inner, self.bytes, hex))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_of_both_backends_read_the_same() {
        assert_eq!(
            canonical_timestamp("2026-12-01 10:55:44.123456789").as_deref(),
            Some("2026-12-01T10:55:44.123456789")
        );
        assert_eq!(
            canonical_timestamp("2026-12-01T10:55:44.5").as_deref(),
            Some("2026-12-01T10:55:44.500")
        );
        assert_eq!(
            canonical_timestamp("2026-12-01 10:55:44").as_deref(),
            Some("2026-12-01T10:55:44")
        );
        assert_eq!(canonical_timestamp("soon"), None);
    }
}
