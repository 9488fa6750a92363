//! One module per subcommand.

use crate::cli::Command;

mod chat_template;
mod inspect;
mod tensor;
mod tokenize;

pub fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Inspect(args) => inspect::run(&args),
        Command::ChatTemplate(args) => chat_template::run(&args),
        Command::Tensor(args) => tensor::run(&args),
        Command::Tokenize(args) => tokenize::tokenize(&args),
        Command::Detokenize(args) => tokenize::detokenize(&args),
    }
}
