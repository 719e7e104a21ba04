//! Cross-crate integration tests. Every test that touches storage runs on SQLite and on
//! PostgreSQL (see `support::on_both!`).

mod support;

mod appraisal;
mod audit;
mod cache;
mod case_loop;
mod concurrency;
mod consultation;
mod feed;
mod hardening_privacy;
mod http;
mod liaison;
mod projector;
mod queues;
mod rewards;
mod snapshots;
