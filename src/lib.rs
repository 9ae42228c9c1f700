//! Portcullis: an authentication server on actix-web.
//!
//! The house has floors, and imports only point down (`tests/layers.rs` checks it):
//!
//! | layer | modules |
//! |---|---|
//! | leaf | `clock`, `config`, `crypto`, `domain`, `error`, `metrics`, `telemetry` |
//! | persistence | `db`, `repo` (queries), `store` (the hot store) |
//! | actors | `actors` (the repository actor owning the pool, the cache actor) |
//! | services | `auth`, `oauth2`, `login_log`, `admin`, `mail`, `account` (the account's life by email) |
//! | web | `web` (middleware, extractors, routes) |
//! | composition roots | `startup`, `cli` |
//!
//! Request path: `HttpAuthentication` (`web::bearer`) asks the gate (`auth::gate`), which
//! verifies the JWT and takes the session and the decoded user from the cache actor's memory,
//! reading through the hot store and the repository actor on a miss.

pub mod account;
pub mod actors;
pub mod admin;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod login_log;
pub mod mail;
pub mod metrics;
pub mod oauth2;
pub mod oidc;
pub mod repo;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
