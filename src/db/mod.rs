pub mod models;
mod pool;
pub mod schema;

pub use pool::{migrate, Backend, Db, DbError};
