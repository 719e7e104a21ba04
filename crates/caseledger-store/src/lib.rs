//! Storage for caseledger: the event store (cqrs-es over sqlite-es or postgres-es), the globally
//! ordered feed of the events table, the projector that keeps views up to date, the read models
//! themselves, and idempotency records.
//!
//! Architecture invariants:
//! - This crate knows SQL and the two backends; it never knows HTTP, tokens or clients. Callers
//!   hand it an already authenticated [`caseledger_domain::Actor`] inside commands.
//! - Every write of business state is an event appended through cqrs-es. Views are derived only
//!   from the feed, and each projection writes its checkpoint in the same transaction as its view
//!   rows, so a view can always be dropped and rebuilt to the same content.
//! - The feed never skips an event: SQLite numbers rows under its single writer; PostgreSQL reads
//!   below the transaction-id horizon (see [`feed`]).
//! - Only the SQL in this crate differs between backends; the [`with_pool!`] and [`with_tx!`]
//!   macros run one body against either concrete connection type.

#[macro_use]
mod db;
pub mod appraisals;
pub mod audit;
mod cache;
pub mod cases;
pub mod commands;
pub mod conditions;
pub mod consultations;
mod documents;
pub mod feed;
pub mod history;
pub mod idempotency;
pub mod kpi;
pub mod people;
pub mod portfolios;
pub mod projector;
pub mod revocations;
pub mod rewards;
pub mod snapshots;
pub mod subjects;

pub use cache::CacheStats;
pub use commands::{AggregateCache, Committed, ExecuteError, Metadata};
pub use conditions::{AppendCondition, AppendTerms, KeyAnswer};
pub use db::{Backend, Database, PgStore, SqliteStore, StoreError, Tx};
pub use feed::{FeedEvent, FeedPosition};
pub use projector::{Projection, ProjectionError, ProjectionStatus, Projector};
