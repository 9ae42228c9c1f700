//! The bare Argon2id rate at the parameters the server uses (the argon2 crate's defaults:
//! m = 19456 KiB, t = 2, p = 1): verifications per CPU-second of one thread, for comparing
//! the login rate with (used by scripts/capacity.sh).
//!
//!     cargo run --release --example argon2_rate -- [SECONDS]

use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let salt = SaltString::encode_b64(b"capacity-salt-16").expect("a salt");
    let stored = Argon2::default()
        .hash_password(b"bench-password-1", &salt)
        .expect("a hash")
        .to_string();
    let parsed = PasswordHash::new(&stored).expect("a PHC string");
    let (started, mut n) = (Instant::now(), 0u64);
    while started.elapsed() < Duration::from_secs(secs) {
        let ok = Argon2::default()
            .verify_password(b"bench-password-1", &parsed)
            .is_ok();
        assert!(ok);
        n += 1;
    }
    println!("{:.1}", n as f64 / started.elapsed().as_secs_f64());
}
