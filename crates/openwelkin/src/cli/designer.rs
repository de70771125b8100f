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
        /// The tenant to publish to; it must exist unless `--create-tenant` is given.
        #[arg(long)]
        tenant: String,
        /// Create the tenant (with instances `live` and `sandbox`) when it does not exist.
        #[arg(long)]
        create_tenant: bool,
        /// Instances to publish to, comma-separated; all of the tenant's when omitted.
        #[arg(long, value_delimiter = ',')]
        instances: Option<Vec<String>>,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Publish an instance's draft as its next formation version.
    Publish {
        /// The tenant of the instance.
        #[arg(long)]
        tenant: String,
        /// The instance whose draft becomes current.
        #[arg(long)]
        instance: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

pub async fn run(command: DesignerCommand) -> anyhow::Result<()> {
    match command {
        DesignerCommand::Validate { dir } => validate(&dir),
        DesignerCommand::Apply { dir, tenant, create_tenant, instances, db } => {
            super::formations::apply(&db.database, &dir, &tenant, create_tenant, instances).await
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
            println!("ok: {}, {}", counted(tenants.len(), "tenant"), counts.join(", "));
            Ok(())
        }
        Err(mut errors) => {
            // Grouped by file; the order within a file is the order they were found in.
            errors.sort_by(|a, b| a.file.cmp(&b.file));
            for e in &errors {
                println!("{e}");
            }
            println!("{}", counted(errors.len(), "error"));
            anyhow::bail!("the designer folder {} has errors", dir.display())
        }
    }
}

/// "1 error", "2 errors": a count with its noun in the right number.
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_read_as_english() {
        assert_eq!(super::counted(1, "error"), "1 error");
        assert_eq!(super::counted(2, "error"), "2 errors");
        assert_eq!(super::counted(0, "tenant"), "0 tenants");
    }
}
