//! Portcullis as an OpenID Connect provider: the clients (relying parties), the keys that sign
//! ID tokens, and the authorization code flow.

pub mod apps;
pub mod backchannel;
pub mod clients;
pub mod flow;
pub mod introspect;
pub mod keys;
pub mod logout;
pub mod request;
pub mod token;
pub mod tokens;

pub use clients::{OidcClient, OidcClients};
pub use flow::Provider;
