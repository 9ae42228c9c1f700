use clap::Parser;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    tune_allocator();
    let cli = portcullis::cli::Cli::parse();
    // The server logs what it does; a command prints its result, and logs only what went wrong.
    portcullis::telemetry::init(if cli.serves() { "info" } else { "warn" });
    match portcullis::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Argon2id allocates about 19 MiB per hash. Once such a block is freed, glibc raises its mmap
/// threshold and serves the next ones from per-thread heaps that it keeps: the server's RSS
/// climbed to ~700 MiB under continuous logins. A fixed threshold keeps big blocks mmapped, so
/// they go back to the system when freed.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
