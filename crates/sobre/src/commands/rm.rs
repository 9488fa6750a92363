//! `sobre rm NAME`: forget a model and delete its file (unless another name
//! shares it).

use crate::cli::RmArgs;

pub fn run(args: &RmArgs) -> anyhow::Result<()> {
    let store = store::Store::open_default()?;
    for name in &args.names {
        let entry = store.remove(name)?;
        println!("removed {name} ({})", super::list::human_bytes(entry.bytes));
    }
    Ok(())
}
