#!/usr/bin/env python3
"""Write tests/data/quant/all_types.gguf: dequantization goldens for every
ggml type that `kernels::dequantize` supports, plus one metadata key of every
GGUF value type.

Why: our Rust dequantizers must agree bit for bit with ggml. The `gguf` PyPI
package (gguf-py, maintained next to llama.cpp) mirrors ggml's
`dequantize_row_*` with the same f32 operations, so its output is the golden.

For each type X the file holds two tensors:
  * `x`          - the raw blocks, GGUF type X, shape [n, 2] (GGUF order).
                   Row 0 is `gguf.quants.quantize(random floats)` where
                   gguf-py can quantize X; otherwise, and always for row 1,
                   random bytes whose scale fields are overwritten with finite
                   values (so every bit pattern of the quants is exercised
                   while the output stays finite). Some scales are zero or
                   f16-subnormal on purpose.
  * `x.expected` - F32, `gguf.quants.dequantize(raw, X)`. gguf-py has no
                   dequantizer for Q8_K and the plain integer/F64 types; for
                   those the expected values are computed here with numpy,
                   following ggml (`d * q` for Q8_K, a C cast otherwise).

Everything comes from a fixed seed, so the file is reproducible.

Regenerate (needs `gguf` and `numpy`):

    python3 tools/make_quant_goldens.py
"""

from __future__ import annotations

import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

SEED = 0x50B4E
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "quant", "all_types.gguf")

# type -> (byte offsets of f16 scale fields within a block)
F16_SCALES: dict[T, tuple[int, ...]] = {
    T.Q4_0: (0,),
    T.Q4_1: (0, 2),
    T.Q5_0: (0,),
    T.Q5_1: (0, 2),
    T.Q8_0: (0,),
    T.Q2_K: (80, 82),   # scales[16], qs[64], d, dmin
    T.Q3_K: (108,),     # hmask[32], qs[64], scales[12], d
    T.Q4_K: (0, 2),     # d, dmin, scales[12], qs[128]
    T.Q5_K: (0, 2),     # d, dmin, scales[12], qh[32], qs[128]
    T.Q6_K: (208,),     # ql[128], qh[64], scales[16], d
    T.IQ4_NL: (0,),
    T.IQ4_XS: (0,),     # d, scales_h, scales_l[4], qs[128]
    T.TQ1_0: (52,),     # qs[48], qh[4], d
    T.TQ2_0: (64,),     # qs[64], d
}

# Block types that gguf-py can quantize (row 0 then comes from real values).
QUANTIZABLE = {T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.TQ1_0, T.TQ2_0, T.MXFP4}

BLOCK_TYPES = [
    T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
    T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_K,
    T.IQ4_NL, T.IQ4_XS, T.TQ1_0, T.TQ2_0, T.MXFP4,
]

ROW = 512  # elements per row: a multiple of every block size used here
ROWS = 2


def f16_scales(rng: np.random.Generator, n: int, specials: bool) -> np.ndarray:
    """Finite f16 scales; with `specials`, block 0 gets 0 and block 1 an
    f16 subnormal."""
    s = rng.uniform(-0.05, 0.05, size=n).astype(np.float16)
    if specials and n > 0:
        s[0] = 0.0
    if specials and n > 1:
        s[1] = np.float16(3.0e-6)  # below f16's smallest normal (6.1e-5)
    return s


def random_blocks(rng: np.random.Generator, ty: T, n_blocks: int, specials: bool) -> np.ndarray:
    _, type_size = GGML_QUANT_SIZES[ty]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    if ty == T.Q8_K:
        d = rng.uniform(-0.01, 0.01, size=n_blocks).astype(np.float32)
        if specials:
            d[0] = 0.0
        blocks[:, 0:4] = d.view(np.uint8).reshape(n_blocks, 4)
        qs = blocks[:, 4:260].view(np.int8).astype(np.int16)
        bsums = qs.reshape(n_blocks, 16, 16).sum(axis=-1).astype("<i2")
        blocks[:, 260:292] = bsums.view(np.uint8).reshape(n_blocks, 32)
    elif ty == T.MXFP4:
        # e8m0 exponent: 0 and 1 take ggml's subnormal path; keep the rest
        # small enough that 12 * 2^(e-128) stays finite.
        e = rng.integers(100, 150, size=n_blocks, dtype=np.uint8)
        if specials:
            e[0] = 0
            if n_blocks > 1:
                e[1] = 1
        blocks[:, 0] = e
    else:
        for off in F16_SCALES[ty]:
            s = f16_scales(rng, n_blocks, specials)
            blocks[:, off:off + 2] = s.view(np.uint8).reshape(n_blocks, 2)
    return blocks


def expected_for(raw: np.ndarray, ty: T) -> np.ndarray:
    if ty == T.Q8_K:
        # gguf-py has no Q8_K dequantizer; ggml: y = d * q.
        blocks = raw.reshape(-1, GGML_QUANT_SIZES[ty][1])
        d = blocks[:, 0:4].copy().view(np.float32)
        q = blocks[:, 4:260].view(np.int8).astype(np.float32)
        return (d * q).reshape(raw.shape[0], -1).astype(np.float32)
    return np.asarray(gguf.quants.dequantize(raw, ty), dtype=np.float32)


def add_block_type(w: gguf.GGUFWriter, rng: np.random.Generator, ty: T) -> None:
    block_size, type_size = GGML_QUANT_SIZES[ty]
    per_row = ROW // block_size
    rows = []
    if ty in QUANTIZABLE:
        if ty in (T.TQ1_0, T.TQ2_0):
            # BitNet-like weights: mostly exact trits, so most survive.
            values = (rng.integers(-1, 2, size=ROW) * 0.7 + rng.normal(0, 0.05, size=ROW)).astype(np.float32)
        else:
            values = rng.standard_normal(ROW).astype(np.float32)
        values[:32] = 0.0  # an all-zero block (or sub-block)
        rows.append(np.asarray(gguf.quants.quantize(values.reshape(1, ROW), ty), dtype=np.uint8).reshape(per_row * type_size))
    while len(rows) < ROWS:
        specials = len(rows) == ROWS - 1  # zero/subnormal scales in the last row only
        rows.append(random_blocks(rng, ty, per_row, specials).reshape(per_row * type_size))
    raw = np.stack(rows).astype(np.uint8)  # numpy shape (ROWS, bytes per row)
    expected = expected_for(raw, ty)
    assert expected.shape == (ROWS, ROW), (ty.name, expected.shape)
    assert np.all(np.isfinite(expected)), ty.name
    name = ty.name.lower()
    w.add_tensor(name, raw, raw_dtype=ty)
    w.add_tensor(name + ".expected", expected)


def add_scalar_types(w: gguf.GGUFWriter, rng: np.random.Generator) -> None:
    n = 64
    specials = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 65504.0, 6.0e-8, 1.0e-40, 3.0e38], dtype=np.float32)

    f32 = (rng.standard_normal((ROWS, n)) * 10).astype(np.float32)
    f32.flat[: len(specials)] = specials
    w.add_tensor("f32", f32)
    w.add_tensor("f32.expected", expected_for(f32.view(np.uint8), T.F32).reshape(ROWS, n))

    with np.errstate(over="ignore"):
        f16 = f32.astype(np.float16)  # specials become f16 subnormals/inf
    w.add_tensor("f16", f16)
    w.add_tensor("f16.expected", expected_for(f16.view(np.uint8), T.F16).reshape(ROWS, n))

    bf16 = np.asarray(gguf.quants.quantize(f32, T.BF16), dtype=np.uint8)  # (ROWS, 2n) bytes
    w.add_tensor("bf16", bf16, raw_dtype=T.BF16)
    w.add_tensor("bf16.expected", expected_for(bf16, T.BF16).reshape(ROWS, n))

    # gguf-py does not dequantize these; expected is a plain C-style cast.
    f64 = (rng.standard_normal((ROWS, n)) * 1e3).astype(np.float64)
    f64.flat[:4] = [1e300, -1e-300, 0.1, 16777217.0]  # overflow, underflow, rounding
    i8 = rng.integers(-128, 128, size=(ROWS, n), dtype=np.int8)
    i16 = rng.integers(-32768, 32768, size=(ROWS, n), dtype=np.int16)
    i32 = rng.integers(-(2**31), 2**31, size=(ROWS, n), dtype=np.int32)
    i64 = rng.integers(-(2**63), 2**63 - 1, size=(ROWS, n), dtype=np.int64)
    for name, arr in (("f64", f64), ("i8", i8), ("i16", i16), ("i32", i32), ("i64", i64)):
        w.add_tensor(name, arr)
        with np.errstate(over="ignore"):
            w.add_tensor(name + ".expected", arr.astype(np.float32))


def add_metadata(w: gguf.GGUFWriter) -> None:
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4_000_000_000)
    w.add_int32("test.i32", -2_000_000_000)
    w.add_uint64("test.u64", 18_000_000_000_000_000_000)
    w.add_int64("test.i64", -9_000_000_000_000_000_000)
    w.add_float32("test.f32", 1.5)
    w.add_float64("test.f64", -2.25)
    w.add_bool("test.bool_true", True)
    w.add_bool("test.bool_false", False)
    w.add_string("test.string", "sobre ✓ golden")
    w.add_array("test.array_i32", [1, -2, 3, 2_000_000_000])
    w.add_array("test.array_str", ["alpha", "beta", "", "δ"])
    w.add_key_value("test.array_u8", [0, 1, 255], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.UINT8)


def main() -> int:
    rng = np.random.default_rng(SEED)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    w = gguf.GGUFWriter(OUT, arch="sobre-test")
    add_metadata(w)
    add_scalar_types(w, rng)
    for ty in BLOCK_TYPES:
        add_block_type(w, rng, ty)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
