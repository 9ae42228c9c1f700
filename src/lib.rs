//! Portcullis: an authentication server on actix-web.
//!
//! Request path: `HttpAuthentication` (auth::bearer) verifies the JWT, then the cache actor
//! (actors::cache) answers for the session and the decoded user from memory, reading through the
//! hot store (store) and the repository actor (actors::repo, over diesel-async) on a miss.

pub mod actors;
pub mod admin;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod login_log;
pub mod metrics;
pub mod oauth2;
pub mod repo;
pub mod routes;
pub mod startup;
pub mod store;
pub mod telemetry;
