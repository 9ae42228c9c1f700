use clap::Parser;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    portcullis::telemetry::init("info");
    let cli = portcullis::cli::Cli::parse();
    match portcullis::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
