//! `sobre tokenize` and `sobre detokenize`.

use crate::cli::{DetokenizeArgs, TokenizeArgs};

pub fn tokenize(_args: &TokenizeArgs) -> anyhow::Result<()> {
    anyhow::bail!("sobre tokenize is not implemented yet")
}

pub fn detokenize(_args: &DetokenizeArgs) -> anyhow::Result<()> {
    anyhow::bail!("sobre detokenize is not implemented yet")
}
