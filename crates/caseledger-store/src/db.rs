//! The database handle: one pool of either backend, built by hand (the library helpers panic on a
//! connection failure), with the schema migrations embedded in the binary.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

/// A storage failure that is not a client's mistake. Messages never reach HTTP clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not `sqlite:` or `postgres:`.
    #[error("unsupported database url {0:?}: use sqlite://path or postgres://...")]
    UnsupportedUrl(String),
    /// The database answered with an error or could not be reached.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored JSON could not be read back.
    #[error("stored json is unreadable: {0}")]
    Json(#[from] serde_json::Error),
    /// Stored data breaks an invariant of the store (e.g. an event that no longer reads).
    #[error("stored data breaks an invariant: {0}")]
    Invariant(String),
    /// The data directory could not be created.
    #[error("creating data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether the database was busy, unreachable, shutting down or out of resources, so that a
    /// retry may succeed (HTTP 503). Codes are read by the backend that raised them: a
    /// PostgreSQL SQLSTATE is never read as a SQLite result code (22021, a data error, is 5 =
    /// `SQLITE_BUSY` in its low byte).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Sql(error) => sql_is_unavailable(error),
            _ => false,
        }
    }

    /// Whether the failure is the SQLite file system's: the disk is full or an I/O error
    /// occurred (`SQLITE_FULL`, `SQLITE_IOERR` with its extended codes).
    pub fn is_storage_fault(&self) -> bool {
        match self {
            StoreError::Sql(sqlx::Error::Database(error)) => error
                .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                .and_then(sqlx::error::DatabaseError::code)
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(|code| matches!(code & 0xff, SQLITE_IOERR | SQLITE_FULL)),
            _ => false,
        }
    }

    /// The store's error inside a boxed error that went through cqrs-es (a `PersistenceError`
    /// of our repository becomes an `AggregateError` holding it), so that its classification
    /// survives the trip; `Err` gives the box back when it holds something else.
    pub fn from_boxed(
        error: Box<dyn std::error::Error + Send + Sync + 'static>,
    ) -> Result<StoreError, Box<dyn std::error::Error + Send + Sync + 'static>> {
        match error.downcast::<StoreError>() {
            Ok(error) => Ok(*error),
            Err(error) => error
                .downcast::<sqlx::Error>()
                .map(|error| StoreError::Sql(*error)),
        }
    }
}

const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;

fn sql_is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => {
            if let Some(error) = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                postgres_code_is_unavailable(error.code())
            } else if let Some(error) = error.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                // Busy or locked, and the file system's faults: the disk is full or an I/O
                // error occurred (the writer connection is replaced, see `pool_options`).
                sqlx::error::DatabaseError::code(error)
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(|code| {
                        matches!(
                            code & 0xff,
                            SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL
                        )
                    })
            } else {
                false
            }
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs after which a retry may succeed: class 08 (connection exception),
/// 57P01/57P02/57P03 (the server is shutting down or starting: admin shutdown, crash shutdown,
/// cannot connect now), class 53 (insufficient resources: disk full, out of memory, too many
/// connections), 40001 and 40P01 (serialization failure, deadlock: the transaction was rolled
/// back and can be run again). Everything else, notably class 22 (data exceptions such as a
/// NUL character), is not the database being unavailable.
fn postgres_code_is_unavailable(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
}

/// Which backend a [`Database`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (the default).
    Sqlite,
    /// PostgreSQL (production).
    Postgres,
}

/// A connection pool to either backend. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Database {
    /// PostgreSQL.
    Postgres(PgStore),
    /// SQLite.
    Sqlite(SqliteStore),
}

/// The PostgreSQL pools: one for statements that write (commands, the projector, every
/// transaction) and one for reads, so that a read never waits for a connection held by a command
/// that waits for its commit to reach the disk. During a slow WAL flush (a shared disk's `fsync`
/// taking tens of milliseconds) every command holds its connection until the flush ends; with one
/// pool, reads queued behind them for the same connections (docs/PERFORMANCE.md, issue 16).
#[derive(Debug, Clone)]
pub struct PgStore {
    /// Reads outside transactions.
    pub read: PgPool,
    /// Writes, and every transaction.
    pub write: PgPool,
}

/// The SQLite pools: readers, and one writer connection that every write of this process queues
/// for.
///
/// SQLite lets one transaction write at a time. With writers on every connection of one pool, a
/// writer that finds the lock taken falls into SQLite's busy handler, which sleeps 1, 2, 5, 10,
/// 15, 20, 25, 25, 25, 50, 50, 100 ms between retries however soon the lock is free: under load
/// that ladder was the command latency's p99 (uprobes on the handler, docs/PERFORMANCE.md). The
/// writer pool's queue is first come, first served and wakes the next writer at the commit.
/// Readers (WAL) never wait for the writer.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Reads, and writes that are not on a hot path.
    pub read: SqlitePool,
    /// The one connection that writes; its transactions begin `IMMEDIATE`, so they hold the
    /// write lock from the start (other processes, such as a CLI rebuild, wait in the busy
    /// handler instead of failing on a stale read snapshot).
    pub write: SqlitePool,
}

/// Runs one body against the concrete pool of a [`Database`]. The body is compiled once per
/// backend, so the same `sqlx` calls serve both without a dynamic driver. On SQLite this is the
/// reader pool: statements that write use [`with_write_pool!`].
#[macro_export]
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::Database::Postgres(store) => {
                let $pool = &store.read;
                $body
            }
            $crate::Database::Sqlite(store) => {
                let $pool = &store.read;
                $body
            }
        }
    };
}

/// Like [`with_pool!`], for a statement that writes: on SQLite it runs on the writer connection,
/// in turn with every other write of the process ([`SqliteStore`]).
#[macro_export]
macro_rules! with_write_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::Database::Postgres(store) => {
                let $pool = &store.write;
                $body
            }
            $crate::Database::Sqlite(store) => {
                let $pool = &store.write;
                $body
            }
        }
    };
}

/// Runs one body against the connection of an open [`Tx`]; `$conn` is a `&mut` connection.
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

/// Binds every [`Bind`] of a slice to a `sqlx` query, in order (one body for both backends).
macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                $crate::db::Bind::Text(text) => query.bind(text.as_str()),
                $crate::db::Bind::OptionalText(text) => query.bind(text.as_deref()),
                $crate::db::Bind::Int(n) => query.bind(*n),
                $crate::db::Bind::OptionalInt(n) => query.bind(*n),
            };
        }
        query
    }};
}

/// An open transaction on either backend.
#[derive(Debug)]
pub enum Tx {
    /// PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
    /// SQLite.
    Sqlite(Transaction<'static, Sqlite>),
}

impl Tx {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Postgres(tx) => tx.commit().await?,
            Tx::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Rolls the transaction back now (dropping it would roll back later, while its locks are
    /// still held).
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Postgres(tx) => tx.rollback().await?,
            Tx::Sqlite(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    /// Which backend the transaction runs on.
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Postgres(_) => Backend::Postgres,
            Tx::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// How long a pooled connection may sit idle before it is tested on its way out of the pool.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A pool of at most `max_connections` that waits 5 s for a connection and tests one only when
/// it has been idle for a while before handing it out (a database restart, a dropped TCP
/// connection). sqlx's default tests every connection on every acquire, a round trip per
/// statement outside a transaction, on top of the test it always runs when a connection returns
/// to the pool; under load a connection is back in use within milliseconds of that second test.
/// A broken connection's error closes it (and the caller answers 503).
fn pool_options<DB: sqlx::Database>(
    options: sqlx::pool::PoolOptions<DB>,
    max_connections: u32,
) -> sqlx::pool::PoolOptions<DB> {
    options
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                // A connection whose ROLLBACK failed still counts itself inside a transaction
                // (sqlx-sqlite keeps its depth when the statement fails; SQLite had already
                // rolled back after a full disk or an I/O error), and every `BEGIN` on it would
                // fail until a restart. Close it: the pool opens a fresh one. The check is
                // exact here: a returning connection is pinged first, which runs the rollback
                // its transaction queued when it was dropped.
                if sqlx::Connection::is_in_transaction(conn) {
                    tracing::warn!("replacing a connection left inside a failed transaction");
                    return Ok(false);
                }
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

impl Database {
    /// Connects to `url` (`sqlite://path` or `postgres://...`). A SQLite file and its directory
    /// are created when missing. The schema is not touched: call [`Database::migrate`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let write = pool_options(PgPoolOptions::new(), 16)
                .connect_with(options.clone())
                .await?;
            let read = pool_options(PgPoolOptions::new(), 8)
                .connect_with(options)
                .await?;
            Ok(Database::Postgres(PgStore { read, write }))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Full durability: a committed decision must survive a power cut.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            if let Some(parent) = Path::new(options.get_filename()).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|source| StoreError::DataDir {
                        path: parent.display().to_string(),
                        source,
                    })?;
                }
            }
            // The writer first: it creates the file and switches it to WAL before readers open.
            let write = pool_options(SqlitePoolOptions::new(), 1)
                .connect_with(options.clone())
                .await?;
            let read = pool_options(SqlitePoolOptions::new(), 8)
                .connect_with(options)
                .await?;
            Ok(Database::Sqlite(SqliteStore { read, write }))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// Applies the embedded migrations of this backend, then hashes any event stored before the
    /// audit trail existed. Safe to run from several processes at once on PostgreSQL (the
    /// migrator takes an advisory lock; the backfill is idempotent).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Database::Postgres(PgStore { write: pool, .. }) => {
                POSTGRES_MIGRATIONS.run(pool).await?
            }
            Database::Sqlite(store) => SQLITE_MIGRATIONS.run(&store.write).await?,
        }
        let hashed = self.backfill_event_hashes().await?;
        if hashed > 0 {
            tracing::info!(hashed, "hashed events stored before the audit trail");
        }
        Ok(())
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Database::Postgres(_) => Backend::Postgres,
            Database::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Opens a transaction to write in. On SQLite it waits for the writer connection (in turn
    /// with the process's other writes) and takes the write lock at once.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Database::Postgres(PgStore { write: pool, .. }) => Tx::Postgres(pool.begin().await?),
            Database::Sqlite(store) => Tx::Sqlite(store.begin_write().await?),
        })
    }

    /// Checks the database answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Whether the database can take a write now, for the liveness probe. SQLite: commits a
    /// write that changes nothing (the header's `user_version`, set to the value it has, which
    /// still appends a page to the WAL), so a full disk or a failing device shows; when the
    /// writer is busy for a second (commands are being written) it is taken as working.
    /// PostgreSQL: always `Ok` (a remote database's outage is readiness's business; the pool
    /// reconnects by itself).
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        let Database::Sqlite(store) = self else {
            return Ok(());
        };
        let probe = async {
            let mut tx = store.begin_write().await?;
            let version: i64 = sqlx::query_scalar("PRAGMA user_version")
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(&format!("PRAGMA user_version = {version}"))
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        };
        match tokio::time::timeout(Duration::from_secs(1), probe).await {
            Ok(result) => Ok(result?),
            Err(_) => Ok(()),
        }
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        match self {
            Database::Postgres(store) => {
                store.read.close().await;
                store.write.close().await;
            }
            Database::Sqlite(store) => {
                store.read.close().await;
                store.write.close().await;
            }
        }
    }
}

impl SqliteStore {
    /// A write transaction on the writer connection (`BEGIN IMMEDIATE`).
    pub async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.write.begin_with("BEGIN IMMEDIATE").await
    }
}

/// A value bound to a query built at run time (filters that may or may not apply, multi-row
/// statements).
#[derive(Debug, Clone)]
pub enum Bind {
    Text(String),
    OptionalText(Option<String>),
    Int(i64),
    OptionalInt(Option<i64>),
}

/// Rows per multi-row statement. Well under both backends' bound-parameter limits, and small on
/// purpose: sqlx binds SQLite parameters by name, and SQLite finds a `$N` name by a linear scan,
/// so a statement's binding cost grows with the square of its parameter count. At 500 rows of 11
/// columns that scan took 38% of a SQLite rebuild's CPU (perf); at 100 rows it is a few percent,
/// and PostgreSQL pays only a few more round trips per 25,000-event rebuild batch.
pub(crate) const ROWS_PER_STATEMENT: usize = 100;

/// `($1, $2, …), ($k, …)` for `rows` rows of `columns` placeholders each.
pub(crate) fn values_placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let cells: Vec<String> = (1..=columns)
                .map(|column| format!("${}", row * columns + column))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$1, $2, …, $n`.
pub(crate) fn list_placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Tx {
    /// Executes a statement built at run time with `binds`; returns the rows affected.
    pub(crate) async fn execute_with(
        &mut self,
        sql: &str,
        binds: &[Bind],
    ) -> Result<u64, StoreError> {
        let affected = with_tx!(self, |conn| bind_all!(sqlx::query(sql), binds)
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(affected)
    }
}

/// The current time as stored in text columns: RFC 3339, UTC, microseconds.
pub(crate) fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
