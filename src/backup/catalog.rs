//! The tables of ours, their columns and foreign keys, read from the database's own catalog:
//! a backup covers every table the migrations made (other areas' new ones included) without
//! a hand-kept list that could fall behind.

use diesel::pg::PgConnection;
use diesel::sql_types::{Integer, Nullable, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{QueryResult, QueryableByName, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::db::DbConn;

/// Diesel's own bookkeeping: recorded in the manifest as the schema version, not copied.
pub const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

/// What a column holds, in the portable schema's terms (`src/db/schema.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Integer,
    Real,
    Text,
    Timestamp,
    Other,
}

impl Kind {
    fn of_sqlite(declared: &str) -> Kind {
        // SQLite's own affinity rules (datatype3.html §3.1), with TIMESTAMP told apart.
        let t = declared.to_ascii_uppercase();
        if t.contains("INT") {
            Kind::Integer
        } else if t.contains("TIMESTAMP") || t.contains("DATE") {
            Kind::Timestamp
        } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
            Kind::Text
        } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
            Kind::Real
        } else {
            Kind::Other
        }
    }

    fn of_postgres(data_type: &str) -> Kind {
        match data_type {
            "bigint" | "integer" | "smallint" => Kind::Integer,
            "text" | "character varying" | "character" => Kind::Text,
            "timestamp without time zone" | "timestamp with time zone" | "date" => Kind::Timestamp,
            "double precision" | "real" | "numeric" => Kind::Real,
            _ => Kind::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

/// `column` of this table refers to `to` of `table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub column: String,
    pub table: String,
    pub to: String,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    /// The columns a row is written with: generated columns, which the database computes
    /// itself, are left out.
    pub columns: Vec<Column>,
    pub foreign_keys: Vec<ForeignKey>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The foreign keys that point into this same table (a folder's parent).
    pub fn self_references(&self) -> impl Iterator<Item = &ForeignKey> {
        self.foreign_keys.iter().filter(|f| f.table == self.name)
    }
}

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    declared: String,
    #[diesel(sql_type = Integer)]
    hidden: i32,
}

#[derive(QueryableByName)]
struct PgColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    generated: String,
}

#[derive(QueryableByName)]
struct ForeignKeyRow {
    #[diesel(sql_type = Text)]
    target: String,
    #[diesel(sql_type = Text)]
    from_col: String,
    #[diesel(sql_type = Nullable<Text>)]
    to_col: Option<String>,
}

/// Double-quotes an identifier for SQL (both backends).
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Every table of ours with its columns and foreign keys, by name.
pub fn tables(conn: &mut DbConn) -> QueryResult<Vec<Table>> {
    match conn {
        DbConn::Sqlite(c) => sqlite_tables(c),
        DbConn::Pg(c) => pg_tables(c),
    }
}

pub fn sqlite_tables(c: &mut SqliteConnection) -> QueryResult<Vec<Table>> {
    // Virtual tables (full-text indexes) and their shadow tables are derived data that
    // their triggers rebuild as rows are loaded; they are neither copied nor written.
    let names: Vec<NameRow> = diesel::sql_query(
        "SELECT t.name AS name FROM sqlite_master t \
         WHERE t.type = 'table' AND t.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
           AND t.name <> '__diesel_schema_migrations' \
           AND t.sql NOT LIKE 'CREATE VIRTUAL%' \
           AND NOT EXISTS (SELECT 1 FROM sqlite_master v WHERE v.type = 'table' \
               AND v.sql LIKE 'CREATE VIRTUAL%' AND t.name LIKE v.name || '\\_%' ESCAPE '\\') \
         ORDER BY t.name",
    )
    .load(c)?;
    names
        .into_iter()
        .map(|NameRow { name }| {
            let columns: Vec<SqliteColumnRow> = diesel::sql_query(
                "SELECT name, COALESCE(type, '') AS declared, hidden \
                 FROM pragma_table_xinfo(?) ORDER BY cid",
            )
            .bind::<Text, _>(&name)
            .load(c)?;
            let keys: Vec<ForeignKeyRow> = diesel::sql_query(
                "SELECT \"table\" AS target, \"from\" AS from_col, \"to\" AS to_col \
                 FROM pragma_foreign_key_list(?) ORDER BY id, seq",
            )
            .bind::<Text, _>(&name)
            .load(c)?;
            Ok(Table {
                columns: columns
                    .into_iter()
                    // hidden 2 and 3: generated columns.
                    .filter(|col| col.hidden == 0)
                    .map(|col| Column {
                        kind: Kind::of_sqlite(&col.declared),
                        name: col.name,
                    })
                    .collect(),
                foreign_keys: keys
                    .into_iter()
                    .map(|k| ForeignKey {
                        column: k.from_col,
                        // A foreign key naming no column refers to the primary key: `id` in
                        // every table of ours that is referred to.
                        to: k.to_col.unwrap_or_else(|| "id".into()),
                        table: k.target,
                    })
                    .collect(),
                name,
            })
        })
        .collect()
}

pub fn pg_tables(c: &mut PgConnection) -> QueryResult<Vec<Table>> {
    let names: Vec<NameRow> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
           AND table_name <> '__diesel_schema_migrations' \
         ORDER BY table_name",
    )
    .load(c)?;
    names
        .into_iter()
        .map(|NameRow { name }| {
            let columns: Vec<PgColumnRow> = diesel::sql_query(
                "SELECT column_name::text AS name, data_type::text AS data_type, \
                        COALESCE(is_generated, 'NEVER')::text AS generated \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position",
            )
            .bind::<Text, _>(&name)
            .load(c)?;
            let keys: Vec<ForeignKeyRow> = diesel::sql_query(
                "SELECT r.relname::text AS target, a.attname::text AS from_col, \
                        ra.attname::text AS to_col \
                 FROM pg_constraint k \
                 JOIN pg_class t ON t.oid = k.conrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 JOIN pg_class r ON r.oid = k.confrelid \
                 JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
                 JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1] \
                 WHERE k.contype = 'f' AND n.nspname = current_schema() AND t.relname = $1 \
                 ORDER BY k.conname",
            )
            .bind::<Text, _>(&name)
            .load(c)?;
            Ok(Table {
                columns: columns
                    .into_iter()
                    .filter(|col| col.generated != "ALWAYS")
                    .map(|col| Column {
                        kind: Kind::of_postgres(&col.data_type),
                        name: col.name,
                    })
                    .collect(),
                foreign_keys: keys
                    .into_iter()
                    .map(|k| ForeignKey {
                        column: k.from_col,
                        table: k.target,
                        to: k.to_col.unwrap_or_else(|| "id".into()),
                    })
                    .collect(),
                name,
            })
        })
        .collect()
}

/// The migrations applied, oldest first (diesel's versions: the names' digits).
pub fn applied_migrations(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    let query = "SELECT version AS name FROM __diesel_schema_migrations ORDER BY version";
    let rows: Vec<NameRow> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(query).load(c)?,
        DbConn::Pg(c) => diesel::sql_query(query).load(c)?,
    };
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// Tables in an order that loads every referred-to table before the tables referring to it.
/// A cycle between two tables has no such order; the error names the tables left.
pub fn load_order(tables: &[Table]) -> Result<Vec<&Table>, String> {
    let mut done: Vec<&str> = Vec::new();
    let mut order = Vec::with_capacity(tables.len());
    while order.len() < tables.len() {
        let before = order.len();
        for t in tables {
            if done.contains(&t.name.as_str()) {
                continue;
            }
            let ready = t.foreign_keys.iter().all(|f| {
                f.table == t.name
                    || done.contains(&f.table.as_str())
                    || !tables.iter().any(|o| o.name == f.table)
            });
            if ready {
                done.push(&t.name);
                order.push(t);
            }
        }
        if order.len() == before {
            let left: Vec<&str> = tables
                .iter()
                .map(|t| t.name.as_str())
                .filter(|n| !done.contains(n))
                .collect();
            return Err(format!(
                "the foreign keys of these tables form a cycle: {}",
                left.join(", ")
            ));
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, refs: &[&str]) -> Table {
        Table {
            name: name.into(),
            columns: vec![],
            foreign_keys: refs
                .iter()
                .map(|r| ForeignKey {
                    column: format!("{r}_id"),
                    table: (*r).into(),
                    to: "id".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn referred_tables_load_first_and_self_references_do_not_block() {
        let tables = vec![
            table("likes", &["publications", "users"]),
            table("publications", &["generations", "users"]),
            table("collections", &["collections", "users", "generations"]),
            table("generations", &["users"]),
            table("users", &[]),
        ];
        let order: Vec<&str> = load_order(&tables)
            .unwrap()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        let at = |n: &str| order.iter().position(|o| *o == n).unwrap();
        assert!(at("users") < at("generations"));
        assert!(at("generations") < at("publications"));
        assert!(at("publications") < at("likes"));
        assert!(at("generations") < at("collections"));
        assert!(load_order(&[table("a", &["b"]), table("b", &["a"])]).is_err());
    }

    #[test]
    fn kinds_follow_the_declared_types() {
        assert_eq!(Kind::of_sqlite("BIGINT"), Kind::Integer);
        assert_eq!(Kind::of_sqlite("TIMESTAMP"), Kind::Timestamp);
        assert_eq!(Kind::of_sqlite("TEXT"), Kind::Text);
        assert_eq!(
            Kind::of_postgres("timestamp without time zone"),
            Kind::Timestamp
        );
        assert_eq!(Kind::of_postgres("bigint"), Kind::Integer);
    }
}
