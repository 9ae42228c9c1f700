//! How long a revocation on one node takes to be refused on another (used by scripts/bench.sh).
//!
//!     cargo run --release --example revocation_latency -- http://127.0.0.1:18080 http://127.0.0.1:18081 USER PASSWORD [ROUNDS]
//!
//! Each round: log in on node A, warm node B's cache with two requests, log out on A, then poll
//! B until it answers 401. Prints the latency from A's logout answer to B's first refusal. B is
//! a node (its `/api/v1/sys/users/me` is polled) or any protected URL with a path, such as an
//! API behind the guard crate (`http://127.0.0.1:18090/orders`).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [a, b, user, password, rest @ ..] = args.as_slice() else {
        eprintln!("usage: revocation_latency NODE_A NODE_B USER PASSWORD [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = rest.first().map(|r| r.parse()).transpose()?.unwrap_or(200);
    let has_path = b.splitn(4, '/').nth(3).is_some_and(|p| !p.is_empty());
    let probe = if has_path {
        b.clone()
    } else {
        format!("{b}/api/v1/sys/users/me")
    };
    let http = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let login: Value = http
            .post(format!("{a}/api/v1/auth/login"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await?
            .json()
            .await?;
        let token = login["data"]["access_token"]
            .as_str()
            .ok_or("login failed")?
            .to_owned();
        for _ in 0..2 {
            let status = http.get(&probe).bearer_auth(&token).send().await?.status();
            assert_eq!(status, 200, "node B does not accept a fresh token");
        }
        http.post(format!("{a}/api/v1/auth/logout"))
            .bearer_auth(&token)
            .send()
            .await?;
        let start = Instant::now();
        loop {
            let status = http.get(&probe).bearer_auth(&token).send().await?.status();
            if status == 401 {
                break;
            }
            if start.elapsed() > Duration::from_secs(5) {
                return Err("node B still accepts a revoked token after 5 s".into());
            }
        }
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    println!(
        "revocation A -> {probe} over {rounds} rounds: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3
    );
    Ok(())
}
