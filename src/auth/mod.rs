//! Who may come in: access tokens, passwords, sessions, the lockout, captchas, client
//! addresses, and the one decision (`gate`) that every way in shares.

pub mod access;
pub mod captcha;
pub mod client;
pub mod client_ip;
pub(crate) mod client_limit;
pub mod clients;
pub mod credentials;
pub mod gate;
pub mod jwt;
pub mod keys;
pub mod lockout;
pub mod mfa;
pub mod password;
pub mod reauth;
pub mod sessions;
