//! `openwelkin designer validate DIR` checks designer folders without a database;
//! `apply` and `publish` (in `formations.rs`) put a folder into the database.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::DatabaseArg;

use crate::designer::objects::Section;
use crate::designer::Designer;

#[derive(Subcommand)]
pub enum DesignerCommand {
    /// Check a designer folder: a root with one folder per tenant, or one tenant's folder.
    /// Prints each problem as `file: path: reason`; exits with 1 when there is any.
    Validate {
        /// The folder (see docs/DESIGNER.md for the layout).
        dir: PathBuf,
    },
    /// Publish one tenant's designer folder to its instances (unchanged ones are skipped).
    Apply {
        /// The tenant's folder.
        dir: PathBuf,
        #[arg(long)]
        tenant: String,
        /// Instances to publish to, comma-separated; all of the tenant's when omitted.
        #[arg(long, value_delimiter = ',')]
        instances: Option<Vec<String>>,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Publish an instance's draft as its next formation version.
    Publish {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        instance: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

pub async fn run(command: DesignerCommand) -> anyhow::Result<()> {
    match command {
        DesignerCommand::Validate { dir } => validate(&dir),
        DesignerCommand::Apply { dir, tenant, instances, db } => {
            super::formations::apply(&db.database, &dir, &tenant, instances).await
        }
        DesignerCommand::Publish { tenant, instance, db } => {
            super::formations::publish(&db.database, &tenant, &instance).await
        }
    }
}

fn validate(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        anyhow::bail!("{} is not a folder", dir.display());
    }
    let loaded = if Designer::is_tenant_dir(dir) {
        let tenant = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "tenant".into());
        Designer::load_dir(dir).map(|d| vec![(tenant, d)])
    } else {
        Designer::load_root(dir)
    };
    match loaded {
        Ok(tenants) => {
            let counts: Vec<String> = Section::ALL
                .iter()
                .map(|s| format!("{} {}", tenants.iter().map(|(_, d)| d.count(*s)).sum::<usize>(), s.folder()))
                .collect();
            println!("ok: {} tenants, {}", tenants.len(), counts.join(", "));
            Ok(())
        }
        Err(mut errors) => {
            // Grouped by file; the order within a file is the order they were found in.
            errors.sort_by(|a, b| a.file.cmp(&b.file));
            for e in &errors {
                println!("{e}");
            }
            println!("{} errors", errors.len());
            anyhow::bail!("the designer folder {} has errors", dir.display())
        }
    }
}
