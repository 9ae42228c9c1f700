//! Types parsed once and trusted afterwards: names and passwords, the decoded user, a session as
//! the store keeps it, and the invalidations every node hears.

mod amr;
mod claims;
mod client;
pub mod codes;
mod invalidation;
mod names;
pub mod oidc_client;
mod session;
mod user;

pub use amr::{Amr, Proof};
pub use claims::{ApiClient, Claim, ClaimSet, UnknownClaim};
pub use client::ClientInfo;
pub use invalidation::{EventId, Invalidation};
pub use names::{
    parse_avatar, parse_nickname, parse_phone, valid_client_id, DomainError, Email, PasswordPolicy,
    Username,
};
pub use oidc_client::OidcClient;
pub use session::{ClientGrant, Grace, SessionRecord, SPENT_HISTORY};
pub use user::{AuthUser, CachedUser, STATUS_DISABLED, STATUS_ENABLED};
