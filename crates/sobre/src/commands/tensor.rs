//! `sobre tensor FILE NAME --out OUT.npy`: one tensor, dequantized to f32.
//!
//! The .npy shape is the GGUF shape reversed (row-major), as
//! `gguf.quants.dequantize` returns it. Rows are dequantized and written one
//! chunk at a time, so a 262,144 x 640 embedding does not need 670 MB of RAM,
//! and the output appears under its name only once it is whole.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use gguf::{GgufFile, TensorInfo};

use crate::cli::TensorArgs;

/// Rows dequantized per write.
const CHUNK_ELEMENTS: usize = 1 << 20;

pub fn run(args: &TensorArgs) -> anyhow::Result<()> {
    let file = GgufFile::open(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let info = file.require_tensor(&args.name)?;
    let data = file.tensor_data(info)?;

    let tmp = temp_path(&args.out);
    let result = write_npy(&tmp, info, data);
    match result {
        Ok(()) => std::fs::rename(&tmp, &args.out)
            .with_context(|| format!("cannot move {} into place", args.out.display())),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn temp_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(format!(".tmp{}", std::process::id()));
    PathBuf::from(name)
}

fn write_npy(path: &Path, info: &TensorInfo, data: &[u8]) -> anyhow::Result<()> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let shape: Vec<u64> = info.shape.iter().rev().copied().collect();
    w.write_all(&npy_header(&shape))?;

    let row_len = info.shape.first().copied().unwrap_or(1) as usize;
    let row_bytes = info.row_bytes() as usize;
    if row_bytes == 0 || !data.len().is_multiple_of(row_bytes) {
        bail!(
            "tensor {:?}: {} data bytes are not whole rows",
            info.name,
            data.len()
        );
    }
    let rows_per_chunk = (CHUNK_ELEMENTS / row_len).max(1);
    let mut buf = vec![0f32; rows_per_chunk * row_len];
    let mut bytes = Vec::with_capacity(buf.len() * 4);
    for chunk in data.chunks(rows_per_chunk * row_bytes) {
        let n = chunk.len() / row_bytes * row_len;
        kernels::dequantize(info.ggml_type, chunk, &mut buf[..n])
            .with_context(|| format!("tensor {:?}", info.name))?;
        bytes.clear();
        bytes.extend(buf[..n].iter().flat_map(|v| v.to_le_bytes()));
        w.write_all(&bytes)?;
    }
    w.flush()?;
    Ok(())
}

/// NPY format 1.0 header: magic, version, u16 header length, a Python dict
/// literal padded with spaces so the data starts on a 64-byte boundary.
fn npy_header(shape: &[u64]) -> Vec<u8> {
    let dims = match shape {
        [] => String::new(),
        [one] => format!("{one},"),
        many => many.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}");
    let unpadded = 10 + dict.len() + 1;
    dict.extend(std::iter::repeat_n(' ', unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::npy_header;

    #[test]
    fn npy_header_is_aligned_and_names_the_shape() {
        for shape in [vec![], vec![7], vec![3, 640], vec![1, 2, 3, 4]] {
            let h = npy_header(&shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(*h.last().unwrap(), b'\n');
            let text = String::from_utf8_lossy(&h[10..]);
            assert!(text.contains("'descr': '<f4'"));
        }
        let h = npy_header(&[7]);
        assert!(String::from_utf8_lossy(&h).contains("'shape': (7,)"));
    }
}
