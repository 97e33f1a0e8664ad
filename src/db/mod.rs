//! Database access: one diesel connection type over SQLite and PostgreSQL, an r2d2 pool,
//! embedded migrations and the one `run_blocking` helper that keeps sync diesel off the executor.

pub mod schema;

use std::time::Duration;

use anyhow::Context as _;
use diesel::connection::{
    AnsiTransactionManager, Connection, SimpleConnection, TransactionManager,
};
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{AppError, AppResult};

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

pub type DbPool = Pool<ConnectionManager<DbConn>>;
pub type PooledConn = PooledConnection<ConnectionManager<DbConn>>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Which backend a database URL names. SQLite URLs may be `sqlite:PATH`, `sqlite://PATH` or a bare path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The connection string diesel expects: a plain file path for SQLite.
fn connection_string(url: &str) -> &str {
    match Backend::of(url) {
        Backend::Postgres => url,
        Backend::Sqlite => url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url),
    }
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = conn {
            // WAL lets readers run beside the single writer; busy_timeout makes writers queue
            // instead of failing with SQLITE_BUSY. A 1 MiB page cache per connection (SQLite's
            // default is 2 MiB) keeps a deep queue from growing the heap; the OS caches the file.
            c.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -1024;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// A cloneable handle to the pool.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
}

impl Db {
    /// Opens the pool (creating the SQLite file's folder if needed) and applies migrations.
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let db = Self::open(url, pool_size)?;
        db.migrate()?;
        db.fill_username_keys()?;
        Ok(db)
    }

    /// Opens the pool and leaves the schema as it is: a restore looks before it migrates.
    pub fn open(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let backend = Backend::of(url);
        let target = connection_string(url);
        if backend == Backend::Sqlite {
            if let Some(parent) = std::path::Path::new(target).parent() {
                if !parent.as_os_str().is_empty() {
                    crate::private_files::create_private_dir(parent)?;
                }
            }
        }
        let manager = ConnectionManager::<DbConn>::new(target);
        let pool = Pool::builder()
            .max_size(pool_size)
            // Connections open on demand; an idle instance holds one.
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            // No `SELECT 1` before every use (a round trip per call on the engine's hot path):
            // a connection that breaks fails its query, is marked broken and is dropped.
            .test_on_check_out(false)
            .connection_customizer(Box::new(SqlitePragmas))
            .build(manager)
            .with_context(|| format!("cannot open the database {}", redact_url(url)))?;
        if backend == Backend::Sqlite && std::path::Path::new(target).is_file() {
            // SQLite gives its journal and WAL files the database file's mode.
            crate::private_files::restrict_to_owner(std::path::Path::new(target))
                .with_context(|| format!("cannot restrict {target} to its owner"))?;
        }
        Ok(Db { pool, backend })
    }

    /// The data half of migration 000202: what SQL cannot compute on SQLite.
    pub fn fill_username_keys(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.get().context("no database connection")?;
        let (filled, collisions) = crate::users::store::fill_username_keys(&mut conn)
            .context("cannot fill users.username_key")?;
        if filled > 0 {
            tracing::info!(filled, "usernames given their comparison form");
        }
        for name in collisions {
            tracing::warn!(
                username = %name,
                "this account's name equals another's once Unicode case and width are \
                 ignored; it keeps working, but rename one of the two"
            );
        }
        Ok(())
    }

    /// Connections open and idle in this instance's pool (monitoring).
    pub fn pool_state(&self) -> diesel::r2d2::State {
        self.pool.state()
    }

    pub fn max_size(&self) -> u32 {
        self.pool.max_size()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn migrate(&self) -> anyhow::Result<Vec<String>> {
        let mut conn = self.pool.get().context("no database connection")?;
        let applied = match &mut *conn {
            DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
            DbConn::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
        let applied: Vec<String> = applied.iter().map(|m| m.to_string()).collect();
        // The keyword index starts empty: index what was there before it, once.
        if applied.iter().any(|m| m.contains("000901")) {
            let n = crate::search::backfill(&mut conn).context("filling the search index")?;
            if n > 0 {
                tracing::info!(rows = n, "filled the keyword search index");
            }
        }
        Ok(applied)
    }

    /// Applies the migrations up to and including `version` (diesel's digits), no further: a
    /// restore loads rows into the schema they were written from, then migrates the rest.
    pub fn migrate_to(&self, version: &str) -> anyhow::Result<()> {
        use diesel::migration::MigrationSource;
        let mut conn = self.pool.get().context("no database connection")?;
        macro_rules! step {
            ($c:expr, $source:expr, $db:ty) => {{
                let applied: Vec<String> = $c
                    .applied_migrations()
                    .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?
                    .iter()
                    .map(|v| v.to_string())
                    .collect();
                let mut all = MigrationSource::<$db>::migrations(&$source)
                    .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
                all.sort_by_key(|m| m.name().version().to_string());
                for m in all {
                    let v = m.name().version().to_string();
                    if v.as_str() <= version && !applied.contains(&v) {
                        $c.run_migration(&*m)
                            .map_err(|e| anyhow::anyhow!("migration {} failed: {e}", m.name()))?;
                    }
                }
            }};
        }
        match &mut *conn {
            DbConn::Sqlite(c) => step!(c, SQLITE_MIGRATIONS, diesel::sqlite::Sqlite),
            DbConn::Pg(c) => step!(c, POSTGRES_MIGRATIONS, diesel::pg::Pg),
        }
        Ok(())
    }

    /// The newest migration this binary carries (diesel's digits of its name).
    pub fn newest_migration(&self) -> anyhow::Result<String> {
        use diesel::migration::MigrationSource;
        let versions: Vec<String> = match self.backend {
            Backend::Sqlite => {
                MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .iter()
                    .map(|m| m.name().version().to_string())
                    .collect()
            }
            Backend::Postgres => {
                MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .iter()
                    .map(|m| m.name().version().to_string())
                    .collect()
            }
        };
        Ok(versions.into_iter().max().unwrap_or_default())
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<F, R>(&self, f: F) -> AppResult<R>
    where
        F: FnOnce(&mut DbConn) -> AppResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let pool = self.pool.clone();
        run_blocking(move || {
            let mut conn = pool
                .get()
                .map_err(|e| AppError::internal(e, "database pool"))?;
            f(&mut conn)
        })
        .await
    }

    /// Whether the database answers `SELECT 1` within `wait`. A readiness probe must say no
    /// quickly when the server is gone, not wait out the pool's connection timeout and fail.
    pub async fn answers(&self, wait: Duration) -> bool {
        let pool = self.pool.clone();
        run_blocking(move || {
            Ok(pool
                .get_timeout(wait)
                .is_ok_and(|mut conn| conn.batch_execute("SELECT 1").is_ok()))
        })
        .await
        .unwrap_or(false)
    }

    /// Synchronous access for the CLI and start-up, where no executor is running.
    pub fn get(&self) -> anyhow::Result<PooledConn> {
        self.pool.get().context("no database connection")
    }
}

/// Runs `f` in a transaction that holds the database's write lock from its first statement:
/// `BEGIN IMMEDIATE` on SQLite, an ordinary `BEGIN` on PostgreSQL (which locks rows, not the
/// database; lock the rows you depend on inside `f`). On SQLite a transaction that reads before
/// it writes holds a snapshot, and its first write fails with SQLITE_BUSY_SNAPSHOT when another
/// writer committed meanwhile; taking the lock at `BEGIN` makes it wait its turn instead.
/// Not nestable: inside another transaction it fails with diesel's `AlreadyInTransaction`.
pub fn write_transaction<R, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<R, E>,
) -> Result<R, E>
where
    E: From<diesel::result::Error>,
{
    // Begun on the inner connection, whose transaction state `DbConn` shares; committed and
    // rolled back as `Connection::transaction` does.
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?,
    }
    type Manager = <DbConn as Connection>::TransactionManager;
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// The one way blocking work (diesel, password hashing) leaves the async executor.
pub async fn run_blocking<F, R>(f: F) -> AppResult<R>
where
    F: FnOnce() -> AppResult<R> + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::internal(e, "blocking task"))?
}

/// Hides the password of a database URL for logs and `config check`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:****{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_by_url() {
        assert_eq!(Backend::of("postgres://u@h/db"), Backend::Postgres);
        assert_eq!(Backend::of("sqlite:/tmp/x.db"), Backend::Sqlite);
        assert_eq!(connection_string("sqlite:///tmp/x.db"), "/tmp/x.db");
        assert_eq!(connection_string("sqlite:data.db"), "data.db");
    }

    #[test]
    fn redact_hides_password_only() {
        assert_eq!(
            redact_url("postgres://bob:secret@h:5432/db"),
            "postgres://bob:****@h:5432/db"
        );
        assert_eq!(redact_url("postgres://bob@h/db"), "postgres://bob@h/db");
    }

    #[test]
    fn write_transaction_holds_the_write_lock_from_begin_and_rolls_back_on_error() {
        use diesel::result::Error;
        use diesel::RunQueryDsl as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let open = || DbConn::Sqlite(SqliteConnection::establish(path.to_str().unwrap()).unwrap());
        let (mut a, mut b) = (open(), open());
        a.batch_execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER)")
            .unwrap();
        let count = |c: &mut DbConn| {
            diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "(SELECT COUNT(*) FROM t)",
            ))
            .get_result::<i64>(c)
            .unwrap()
        };
        // Nothing written yet, and still another writer cannot begin.
        let other_could_write = write_transaction(&mut a, |_| {
            Ok::<_, Error>(b.batch_execute("BEGIN IMMEDIATE").is_ok())
        })
        .unwrap();
        assert!(!other_could_write);
        let failed: Result<(), Error> = write_transaction(&mut a, |c| {
            c.batch_execute("INSERT INTO t VALUES (1)")?;
            Err(Error::RollbackTransaction)
        });
        assert!(failed.is_err());
        assert_eq!(count(&mut a), 0);
        write_transaction(&mut a, |c| c.batch_execute("INSERT INTO t VALUES (2)")).unwrap();
        assert_eq!(count(&mut b), 1);
        let nested = write_transaction(&mut a, |c| write_transaction(c, |_| Ok::<_, Error>(())));
        assert!(matches!(nested, Err(Error::AlreadyInTransaction)));
        assert_eq!(count(&mut a), 1);
    }

    #[test]
    fn migrations_come_in_pairs() {
        let names = |dir: &str| {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let root = env!("CARGO_MANIFEST_DIR");
        assert_eq!(
            names(&format!("{root}/migrations/sqlite")),
            names(&format!("{root}/migrations/postgres"))
        );
    }
}
