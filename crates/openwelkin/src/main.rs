use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("OPENWELKIN_LOG")
                .unwrap_or_else(|_| EnvFilter::new("openwelkin=info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match openwelkin::cli::config::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("openwelkin: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    match openwelkin::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openwelkin: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
