//! `openwelkin operators`: the people who may sign in to the web console.

use crate::clock::Clock;
use crate::services::operators;
use crate::store::Db;
use clap::Subcommand;
use std::io::{BufRead, IsTerminal, Write};

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Create an operator. The password is asked for on the terminal, or read from the
    /// first line of standard input with --password-stdin.
    Create {
        /// The operator's sign-in name.
        name: String,
        /// Read the password from the first line of standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List operators and whether they are enabled.
    List,
    /// Disable an operator and end their sessions.
    Disable {
        /// The operator's sign-in name.
        name: String,
    },
    /// Set a new password (enabling the operator again) and end their sessions.
    ResetPassword {
        /// The operator's sign-in name.
        name: String,
        /// Read the password from the first line of standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// The password from standard input's first line, or asked twice on a terminal.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if from_stdin || !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    // No terminal echo control without another dependency: say so, like `read -s` users expect.
    let ask = |prompt: &str| -> anyhow::Result<String> {
        eprint!("{prompt} (shown as typed): ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    };
    let first = ask("password")?;
    if ask("again")? != first {
        anyhow::bail!("the passwords differ");
    }
    Ok(first)
}

pub async fn run(command: OperatorCommand, url: &str) -> anyhow::Result<()> {
    let db = Db::connect(url).await?;
    let now = Clock::system().now_ms();
    let result = match command {
        OperatorCommand::Create { name, password_stdin } => {
            let password = read_password(password_stdin)?;
            operators::create(&db, &name, &password, &operators::Origin::cli(), now)
                .await
                .map(|_| println!("operator: {name}"))
        }
        OperatorCommand::List => operators::list(&db).await.map(|list| {
            for o in list {
                println!("{}\t{}", o.name, if o.enabled { "enabled" } else { "disabled" });
            }
        }),
        OperatorCommand::Disable { name } => operators::disable(&db, &name, &operators::Origin::cli(), now)
            .await
            .map(|_| println!("operator {name} disabled")),
        OperatorCommand::ResetPassword { name, password_stdin } => {
            let password = read_password(password_stdin)?;
            operators::reset_password(&db, &name, &password, &operators::Origin::cli(), now)
                .await
                .map(|_| println!("operator {name}: new password"))
        }
    };
    db.close().await;
    result.map_err(|e| anyhow::anyhow!("{}", e.content.message))
}
