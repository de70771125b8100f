//! `openwelkin postman`: writes a Postman Collection (v2.1) generated from the OpenAPI
//! document (see `crate::postman`), to a file or to stdout.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct PostmanArgs {
    /// The file to write (replaced if it exists); stdout when left out.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The default of the collection's `baseUrl` variable.
    #[arg(long, default_value = crate::postman::DEFAULT_BASE_URL)]
    pub base_url: String,
}

pub fn run(args: PostmanArgs) -> anyhow::Result<()> {
    let doc = serde_json::to_value(crate::api::openapi::document())?;
    let collection = crate::postman::collection(&doc, args.base_url.trim_end_matches('/'));
    let text = serde_json::to_string_pretty(&collection)?;
    match args.out {
        Some(path) => std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?,
        None => println!("{text}"),
    }
    Ok(())
}
