//! The command line: one subcommand per job, arguments as the issues spell
//! them out (they are contracts other tools depend on).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sobre",
    version,
    about = "A frugal, sovereign runtime for open-weight language models"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a GGUF file's header: metadata and tensor table.
    Inspect(InspectArgs),
    /// Write one tensor, dequantized to float32, as a .npy file.
    Tensor(TensorArgs),
    /// Turn text into token ids with the model's own tokenizer.
    Tokenize(TokenizeArgs),
    /// Turn token ids back into text.
    Detokenize(DetokenizeArgs),
    /// Print the prompt a conversation becomes under the model's chat template.
    ChatTemplate(ChatTemplateArgs),
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// GGUF file.
    pub file: PathBuf,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TensorArgs {
    /// GGUF file.
    pub file: PathBuf,
    /// Tensor name, as `sobre inspect` lists it.
    pub name: String,
    /// Output .npy file (float32, shape = GGUF shape reversed).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct TokenizeArgs {
    /// GGUF file (its weights may be cut off: only the header is read).
    pub file: PathBuf,
    /// Do not add BOS, whatever the model's metadata says.
    #[arg(long)]
    pub no_bos: bool,
    /// Treat special-token text (`<start_of_turn>`, `<think>`) as plain text.
    #[arg(long)]
    pub no_special: bool,
    /// Print `{"ids": [...]}`.
    #[arg(long)]
    pub json: bool,
    /// Text to tokenize; standard input when omitted.
    pub text: Option<String>,
}

#[derive(Debug, Args)]
pub struct DetokenizeArgs {
    /// GGUF file (its weights may be cut off: only the header is read).
    pub file: PathBuf,
    /// Print `{"text": "..."}`.
    #[arg(long)]
    pub json: bool,
    /// Token ids.
    #[arg(required = true)]
    pub ids: Vec<u32>,
}

#[derive(Debug, Args)]
pub struct ChatTemplateArgs {
    /// GGUF file (its weights may be cut off: only the header is read).
    pub file: PathBuf,
    /// JSON file holding the messages: `[{"role": "user", "content": "..."}]`
    /// (or an object with a "messages" list, as a chat request has).
    #[arg(long)]
    pub messages: PathBuf,
    /// Do not end with the opening of the assistant's turn.
    #[arg(long)]
    pub no_generation_prompt: bool,
}
