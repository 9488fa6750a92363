//! Writes the tiny random-weight test models (qwen2 and llama, in F32, F16
//! and Q8_0) to a directory, for `tools/make_model_goldens.py` to run
//! through llama.cpp. The tests regenerate the same files themselves.
//!
//! `cargo run --release -p model --example make_tiny_models -- OUT_DIR`

#[path = "../tests/common/tiny.rs"]
mod tiny;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: make_tiny_models OUT_DIR")?;
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    for arch in tiny::ARCHS {
        for ty in tiny::TYPES {
            let path = tiny::write(&dir, arch, ty)?;
            println!("{}", path.display());
        }
    }
    Ok(())
}
