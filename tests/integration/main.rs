//! Cross-crate integration tests. Every test that touches storage runs on SQLite and on
//! PostgreSQL (see `support::on_both!`).

mod people;
mod support;

mod application;
mod appraisal;
mod audit;
mod browser;
mod cache;
mod case_loop;
mod concurrency;
mod consultation;
mod contract;
mod documents;
mod error_codes;
mod exports;
mod feed;
mod feed_http;
mod hardening_cases;
mod hardening_faults;
mod hardening_panels;
mod hardening_privacy;
mod hardening_writes;
mod http;
mod identity;
mod liaison;
mod projector;
mod protection;
mod queues;
mod rewards;
mod scale_paths;
mod snapshots;
