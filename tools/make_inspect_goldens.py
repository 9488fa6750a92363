#!/usr/bin/env python3
"""Golden data for `sobre inspect` and `sobre tensor`, from the `gguf` PyPI package.

Independent reference: gguf-py's GGUFReader (header) and gguf.quants.dequantize
(tensor values). For each model file it writes tests/data/inspect/<name>.json:

  version, architecture, alignment, data_offset, n_tensors
  metadata: {key: {"type": T, "value": V}} for scalars,
            {key: {"type": "array", "elem": T, "len": N, "head": [first 8]}} for arrays
  tensors:  [{"name", "type", "shape", "offset", "bytes"}]   (offset absolute in the file)
  samples:  for the first tensor of each type whose data is in the file:
            {"name", "numpy_shape", "sum" (float64, null if non-finite), "indices", "values"} where
            values are float32 at flat indices of the dequantized array, as bit
            patterns (uint32) so the comparison is exact.

Usage:  python3 tools/make_inspect_goldens.py   (models from scripts/fetch-models, and
        tests/data/quant/all_types.gguf from tools/make_quant_goldens.py)
Needs:  pip install gguf numpy
"""
import json
import os
import shutil
import tempfile
import subprocess
import sys

import numpy as np
import gguf
from gguf.constants import GGUFValueType as VT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "inspect")

TYPE_NAMES = {
    VT.UINT8: "u8", VT.INT8: "i8", VT.UINT16: "u16", VT.INT16: "i16",
    VT.UINT32: "u32", VT.INT32: "i32", VT.UINT64: "u64", VT.INT64: "i64",
    VT.FLOAT32: "f32", VT.FLOAT64: "f64", VT.BOOL: "bool", VT.STRING: "string",
    VT.ARRAY: "array",
}


def scalar(v, t):
    if t == VT.STRING:
        return v
    if t == VT.BOOL:
        return bool(v)
    if t in (VT.FLOAT32, VT.FLOAT64):
        return float(v)
    return int(v)


def field_json(field):
    t = field.types[0]
    if t == VT.ARRAY:
        elem = field.types[1] if len(field.types) > 1 else None
        n = len(field.data)
        entry = {"type": "array", "elem": TYPE_NAMES.get(elem, str(elem)), "len": n}
        if elem is not None and elem != VT.ARRAY:
            items = field.contents()[:8]
            entry["head"] = [scalar(v, elem) for v in items]
        return entry
    return {"type": TYPE_NAMES[t], "value": scalar(field.contents(), t)}


def golden(path, name, sample_types=True):
    file_len = os.path.getsize(path)
    try:
        r = gguf.GGUFReader(path)
    except ValueError:
        # GGUFReader maps every tensor eagerly and fails on a file whose
        # weights are cut off. Read a sparse copy extended with zeros instead
        # (no disk cost); tensors past the real end are never sampled.
        sparse = os.path.join(tempfile.mkdtemp(), "padded.gguf")
        shutil.copyfile(path, sparse)
        os.truncate(sparse, 1 << 40)
        r = gguf.GGUFReader(sparse)
    meta = {}
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        meta[key] = field_json(field)
    tensors, samples, seen = [], [], set()
    rng = np.random.default_rng(0)
    for t in r.tensors:
        ty = gguf.GGMLQuantizationType(t.tensor_type)
        shape = [int(d) for d in t.shape]
        tensors.append({"name": t.name, "type": ty.name, "shape": shape,
                        "offset": int(t.data_offset), "bytes": int(t.n_bytes)})
        whole = t.data_offset + t.n_bytes <= file_len
        if sample_types and whole and ty not in seen:
            seen.add(ty)
            raw = np.asarray(t.data)
            try:
                deq = gguf.quants.dequantize(raw, ty).astype(np.float32)
            except NotImplementedError:
                continue  # gguf-py has no dequantizer for this type (F64, Q8_K...)
            flat = deq.reshape(-1)
            idx = sorted(set([0, flat.size - 1] + rng.integers(0, flat.size, 62).tolist()))
            samples.append({
                "name": t.name,
                "numpy_shape": list(deq.shape),
                # None when the tensor holds NaN or inf on purpose (all_types.gguf).
                "sum": float(flat.astype(np.float64).sum()) if np.isfinite(flat).all() else None,
                "indices": idx,
                "bits": [int(x) for x in flat[idx].view(np.uint32)],
            })
    doc = {
        "source": os.path.basename(path),
        "version": int(r.fields["GGUF.version"].contents()),
        "architecture": meta.get("general.architecture", {}).get("value"),
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "n_tensors": len(tensors),
        "metadata": meta,
        "tensors": tensors,
        "samples": samples,
    }
    os.makedirs(OUT, exist_ok=True)
    out = os.path.join(OUT, name + ".json")
    with open(out, "w") as f:
        json.dump(doc, f, indent=0, ensure_ascii=False)
        f.write("\n")
    print(f"{out}: {len(meta)} keys, {len(tensors)} tensors, {len(samples)} sampled")


def main():
    paths = subprocess.run([os.path.join(ROOT, "scripts", "fetch-models"), "--print"],
                           check=True, capture_output=True, text=True).stdout.split()
    gemma, deepseek = paths
    golden(gemma, "gemma3-270m")
    golden(deepseek, "deepseek-r1-qwen-7b-part0000")
    # The file of every quant type and metadata value type (tools/make_quant_goldens.py).
    golden(os.path.join(ROOT, "tests", "data", "quant", "all_types.gguf"), "all-types")


if __name__ == "__main__":
    sys.exit(main())
