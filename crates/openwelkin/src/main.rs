use openwelkin::telemetry::logs::{self, LogFormat};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = match openwelkin::cli::config::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("openwelkin: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let format = cli.log_format;
    logs::init(format);
    match openwelkin::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            match format {
                LogFormat::Text => eprintln!("openwelkin: {e:#}"),
                // Every line of the log stream stays JSON.
                LogFormat::Json => tracing::error!(error = format!("{e:#}"), "openwelkin stopped"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}
