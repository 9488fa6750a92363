//! What `list` and `show` say about a model, read from its GGUF header (the
//! file is memory-mapped, so this costs no more than the header).

use std::collections::HashMap;
use std::path::Path;

use gguf::{GgmlType, GgufFile};

/// A model's headline facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub name: Option<String>,
    pub architecture: Option<String>,
    pub parameters: u64,
    pub quantization: Option<String>,
    pub context_length: Option<u64>,
    pub license: Option<String>,
    pub chat_template: Option<String>,
}

/// llama.cpp's `llama_ftype` names (`general.file_type`), without the
/// `MOSTLY_` prefix; ids 4-6 were retired upstream.
pub fn file_type_name(id: u64) -> Option<&'static str> {
    Some(match id {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return None,
    })
}

/// `general.file_type` when present and known, else the tensor type holding
/// the most bytes (what a file without the key is, in practice).
pub fn quantization(file: &GgufFile) -> Option<String> {
    let meta = file.metadata();
    if let Some(name) = meta.get_u64("general.file_type").and_then(file_type_name) {
        return Some(name.to_string());
    }
    let mut bytes: HashMap<GgmlType, u64> = HashMap::new();
    for t in file.tensors() {
        *bytes.entry(t.ggml_type).or_default() += t.n_bytes;
    }
    bytes
        .into_iter()
        .max_by_key(|&(ty, n)| (n, std::cmp::Reverse(ty.id())))
        .map(|(ty, _)| ty.name().to_string())
}

impl Summary {
    pub fn of(file: &GgufFile) -> Summary {
        let meta = file.metadata();
        let architecture = file.architecture().map(str::to_string);
        let context_length = architecture
            .as_deref()
            .and_then(|a| meta.get_u64(&format!("{a}.context_length")));
        Summary {
            name: meta.get_str("general.name").map(str::to_string),
            architecture,
            parameters: file.n_params(),
            quantization: quantization(file),
            context_length,
            license: meta.get_str("general.license").map(str::to_string),
            chat_template: meta.get_str("tokenizer.chat_template").map(str::to_string),
        }
    }

    pub fn open(path: &Path) -> gguf::Result<Summary> {
        Ok(Summary::of(&GgufFile::open(path)?))
    }
}
