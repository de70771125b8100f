use openwelkin::telemetry::logs::{self, LogFormat};

fn main() -> std::process::ExitCode {
    openwelkin::net::os::tune_allocator();
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the async runtime starts").block_on(run())
}

async fn run() -> std::process::ExitCode {
    let cli = match openwelkin::cli::config::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("openwelkin: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let format = cli.log_format;
    let logs = logs::init(format);
    let result = openwelkin::cli::run(cli).await;
    if let (Err(e), LogFormat::Json) = (&result, format) {
        // Every line of the log stream stays JSON.
        tracing::error!(error = format!("{e:#}"), "openwelkin stopped");
    }
    // Writes out the queued log lines, before anything else goes to standard error.
    drop(logs);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if format == LogFormat::Text {
                eprintln!("openwelkin: {e:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
