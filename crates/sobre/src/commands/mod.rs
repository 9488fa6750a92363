//! One module per subcommand.

use crate::cli::Command;

mod bench;
mod chat;
mod chat_template;
mod inspect;
mod list;
mod pull;
mod rm;
mod run;
mod serve;
mod show;
mod tensor;
mod tokenize;

pub fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Inspect(args) => inspect::run(&args),
        Command::ChatTemplate(args) => chat_template::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Tensor(args) => tensor::run(&args),
        Command::Tokenize(args) => tokenize::tokenize(&args),
        Command::Detokenize(args) => tokenize::detokenize(&args),
        Command::Run(args) => run::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Pull(args) => pull::run(&args),
        Command::List(args) => list::run(&args),
        Command::Rm(args) => rm::run(&args),
        Command::Show(args) => show::run(&args),
    }
}

/// A model argument: a GGUF path, a pulled store name, or a known alias
/// (which is pulled on first use: naming an alias is asking for it).
pub(crate) fn resolve_model(model: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    if model.exists() {
        return Ok(model.to_path_buf());
    }
    let text = model.to_string_lossy();
    if text.contains(std::path::MAIN_SEPARATOR) || text.ends_with(".gguf") {
        anyhow::bail!("cannot open {}: no such file", model.display());
    }
    let store = store::Store::open_default()?;
    Ok(store.resolve_or_pull_alias(&model.to_string_lossy(), false)?)
}

/// The `"energy"` object of `sobre run --json` and the server's answers.
pub(crate) fn energy_json(e: &energy::EnergyReport) -> serde_json::Value {
    server::energy_json(e)
}

/// The backend `--device` asks for, announced on stderr (stdout is for
/// text and `--json`), and the energy meter that fits it: NVML on an
/// NVIDIA GPU, else RAPL or the estimate, labeled as such.
pub(crate) fn open_backend<'a>(
    model: model::Model<'a>,
    opts: &gpu::Options,
) -> anyhow::Result<(Box<dyn model::Backend + 'a>, energy::MeterConfig)> {
    let selected = gpu::select(model, opts)?;
    selected.announce();
    let meter = energy::MeterConfig {
        device: if selected.nvidia {
            energy::Device::NvidiaGpu
        } else {
            energy::Device::Cpu
        },
        ..energy::MeterConfig::default()
    };
    Ok((selected.backend, meter))
}
