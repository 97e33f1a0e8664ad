//! The database half of a restore: the JSON-lines tables of a backup loaded into an empty
//! database of either backend, referred-to tables first, in one transaction.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context as _};
use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use serde_json::{Map, Value};

use super::catalog::{self, quote, Column, Kind, Table};
use super::dump::parse_timestamp;
use super::Manifest;
use crate::db::DbConn;

/// Rows per INSERT: one statement carries them as one JSON array.
const BATCH_ROWS: usize = 500;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The first table of ours that holds a row, if any: a restore writes only into nothing.
pub fn first_non_empty(conn: &mut DbConn) -> anyhow::Result<Option<String>> {
    for t in catalog::tables(conn)? {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {} LIMIT 1) x",
            quote(&t.name)
        );
        if count(conn, sql)? > 0 {
            return Ok(Some(t.name));
        }
    }
    Ok(None)
}

/// Rows per table of ours.
pub fn row_counts(conn: &mut DbConn) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for t in catalog::tables(conn)? {
        let n = count(
            conn,
            format!("SELECT COUNT(*) AS n FROM {}", quote(&t.name)),
        )?;
        counts.insert(t.name, u64::try_from(n).unwrap_or_default());
    }
    Ok(counts)
}

fn count(conn: &mut DbConn, sql: String) -> anyhow::Result<i64> {
    let rows: Vec<Count> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sql).load(c)?,
        DbConn::Pg(c) => diesel::sql_query(sql).load(c)?,
    };
    Ok(rows.first().map_or(0, |r| r.n))
}

/// Loads every table of the backup under `src` in one transaction; nothing is left behind
/// if one row fails. Returns the rows written.
pub fn load(conn: &mut DbConn, src: &Path, manifest: &Manifest) -> anyhow::Result<u64> {
    match conn {
        DbConn::Sqlite(c) => c.immediate_transaction(|c| load_into(c, src, manifest)),
        DbConn::Pg(c) => c.transaction(|c| {
            let rows = load_into(c, src, manifest)?;
            fix_sequences(c)?;
            Ok(rows)
        }),
    }
}

/// How rows are written, per backend.
trait Target {
    fn tables(&mut self) -> diesel::QueryResult<Vec<Table>>;
    /// Inserts the rows of `json` (an array of objects keyed by column) into `columns`.
    fn insert(
        &mut self,
        table: &Table,
        columns: &[&Column],
        json: String,
    ) -> diesel::QueryResult<usize>;
}

impl Target for SqliteConnection {
    fn tables(&mut self) -> diesel::QueryResult<Vec<Table>> {
        catalog::sqlite_tables(self)
    }

    fn insert(
        &mut self,
        table: &Table,
        columns: &[&Column],
        json: String,
    ) -> diesel::QueryResult<usize> {
        let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        let values: Vec<String> = columns
            .iter()
            .map(|c| {
                format!(
                    "json_extract(value, '$.{}')",
                    quote(&c.name).replace('\'', "''")
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM json_each(?)",
            quote(&table.name),
            names.join(", "),
            values.join(", ")
        );
        diesel::sql_query(sql).bind::<Text, _>(json).execute(self)
    }
}

impl Target for PgConnection {
    fn tables(&mut self) -> diesel::QueryResult<Vec<Table>> {
        catalog::pg_tables(self)
    }

    fn insert(
        &mut self,
        table: &Table,
        columns: &[&Column],
        json: String,
    ) -> diesel::QueryResult<usize> {
        let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        // OVERRIDING SYSTEM VALUE: our ids are GENERATED ALWAYS identities, and a restore
        // must keep them (other rows and public links refer to them).
        let sql = format!(
            "INSERT INTO {t} ({cols}) OVERRIDING SYSTEM VALUE \
             SELECT {cols} FROM json_populate_recordset(NULL::{t}, $1::json)",
            t = quote(&table.name),
            cols = names.join(", "),
        );
        diesel::sql_query(sql).bind::<Text, _>(json).execute(self)
    }
}

fn load_into<C: Target>(c: &mut C, src: &Path, manifest: &Manifest) -> anyhow::Result<u64> {
    let tables = c.tables()?;
    for entry in &manifest.tables {
        if entry.rows > 0 && !tables.iter().any(|t| t.name == entry.name) {
            bail!(
                "the backup holds table {} that this database does not have",
                entry.name
            );
        }
    }
    let order = catalog::load_order(&tables).map_err(anyhow::Error::msg)?;
    let mut total = 0;
    for table in order {
        let Some(entry) = manifest.tables.iter().find(|e| e.name == table.name) else {
            continue;
        };
        let mut columns = Vec::with_capacity(entry.columns.len());
        for col in &entry.columns {
            match table.column(&col.name) {
                Some(target) => columns.push(target),
                None => bail!(
                    "the backup's column {}.{} is not in this database",
                    table.name,
                    col.name
                ),
            }
        }
        let path = src.join(&entry.file);
        let file = std::fs::File::open(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut rows = Vec::new();
        let ordered = table.self_references().next().is_some();
        let mut written = 0u64;
        for line in std::io::BufReader::with_capacity(1 << 16, file).lines() {
            let line = line.with_context(|| format!("cannot read {}", path.display()))?;
            if line.is_empty() {
                continue;
            }
            let mut row: Map<String, Value> = serde_json::from_str(&line)
                .with_context(|| format!("a line of {} is not a JSON object", entry.file))?;
            for col in &columns {
                if col.kind == Kind::Timestamp {
                    if let Some(Value::String(s)) = row.get_mut(&col.name) {
                        if let Some(t) = parse_timestamp(s) {
                            // Diesel's own SQLite text form, which PostgreSQL reads too: SQLite
                            // compares timestamps as text, so every row must use one form.
                            *s = t.format("%Y-%m-%d %H:%M:%S%.f").to_string();
                        }
                    }
                }
            }
            rows.push(Value::Object(row));
            if !ordered && rows.len() >= BATCH_ROWS {
                written += insert_batch(c, table, &columns, std::mem::take(&mut rows))?;
            }
        }
        if ordered {
            rows = parents_first(table, rows);
        }
        for chunk in rows.chunks(BATCH_ROWS) {
            written += insert_batch(c, table, &columns, chunk.to_vec())?;
        }
        if written != entry.rows {
            bail!(
                "table {}: {written} rows loaded, the manifest says {}",
                table.name,
                entry.rows
            );
        }
        total += written;
    }
    Ok(total)
}

fn insert_batch<C: Target>(
    c: &mut C,
    table: &Table,
    columns: &[&Column],
    rows: Vec<Value>,
) -> anyhow::Result<u64> {
    let n = rows.len() as u64;
    c.insert(table, columns, Value::Array(rows).to_string())
        .with_context(|| format!("cannot load table {}", table.name))?;
    Ok(n)
}

/// Rows of a table that refers to itself (folders in folders), each after the row it names:
/// a folder may have been moved under one made after it, so ids alone do not give the order.
fn parents_first(table: &Table, rows: Vec<Value>) -> Vec<Value> {
    let refs: Vec<_> = table.self_references().collect();
    let key = |v: &Value| v.to_string();
    let present: HashSet<String> = rows
        .iter()
        .flat_map(|r| refs.iter().filter_map(|f| r.get(&f.to).map(key)))
        .collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    let mut pending = rows;
    while !pending.is_empty() {
        let before = pending.len();
        let (ready, wait): (Vec<Value>, Vec<Value>) = pending.into_iter().partition(|r| {
            refs.iter().all(|f| match r.get(&f.column) {
                None | Some(Value::Null) => true,
                Some(v) => done.contains(&key(v)) || !present.contains(&key(v)),
            })
        });
        for r in &ready {
            for f in &refs {
                if let Some(v) = r.get(&f.to) {
                    done.insert(key(v));
                }
            }
        }
        out.extend(ready);
        pending = wait;
        if pending.len() == before {
            // A cycle of rows: let the database say which row is wrong.
            out.append(&mut pending);
        }
    }
    out
}

#[derive(QueryableByName)]
struct SerialColumn {
    #[diesel(sql_type = Text)]
    t: String,
    #[diesel(sql_type = Text)]
    c: String,
}

/// Moves every identity sequence past the largest id loaded, so the next row does not
/// collide with a restored one (PostgreSQL does not do it for explicit ids).
fn fix_sequences(c: &mut PgConnection) -> anyhow::Result<()> {
    let serials: Vec<SerialColumn> = diesel::sql_query(
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
         WHERE table_schema = current_schema() \
           AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
    )
    .load(c)?;
    for s in serials {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), \
                    COALESCE((SELECT MAX({col}) FROM {t}), 0) + 1, false)",
            col = quote(&s.c),
            t = quote(&s.t),
        );
        diesel::sql_query(sql)
            .bind::<Text, _>(quote(&s.t))
            .bind::<Text, _>(&s.c)
            .execute(c)
            .with_context(|| format!("cannot move the sequence of {}.{}", s.t, s.c))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::catalog::ForeignKey;
    use serde_json::json;

    #[test]
    fn a_folder_moved_under_a_newer_one_loads_after_it() {
        let table = Table {
            name: "collections".into(),
            columns: vec![],
            foreign_keys: vec![ForeignKey {
                column: "parent_id".into(),
                table: "collections".into(),
                to: "id".into(),
            }],
        };
        let rows = vec![
            json!({"id": 1, "parent_id": 3}),
            json!({"id": 2, "parent_id": null}),
            json!({"id": 3, "parent_id": 2}),
            json!({"id": 4, "parent_id": 1}),
        ];
        let ids: Vec<i64> = parents_first(&table, rows)
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [2, 3, 1, 4]);
    }
}
