use tracing_subscriber::{fmt, EnvFilter};

/// Logs to stderr; `RUST_LOG` chooses what (default `info`).
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
