//! Every query the server makes, written once for both backends (see `db::pool`), grouped by
//! area. The server and the CLI reach it through the repository actor (`actors::repo`).

mod clients;
pub mod fba;
mod imported;
mod login_logs;
mod mfa;
mod oidc;
mod passkeys;
mod roles;
mod social;
mod users;

pub use login_logs::LoginLogFilter;
pub use mfa::TotpRow;
pub use oidc::LogoutNotice;
pub use passkeys::PasskeyRow;
pub use roles::{CodeChange, RoleKey};
pub use users::{Guarded, UserChanges, UserFilter};

use crate::db::Db;

#[derive(Clone)]
pub struct Repo {
    db: Db,
}

impl Repo {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn ping(&self) -> Result<(), crate::db::DbError> {
        self.db.ping().await
    }
}
