pub mod bearer;
pub mod client;
pub mod jwt;
pub mod password;
pub mod sessions;
pub mod user;
