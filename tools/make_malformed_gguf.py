#!/usr/bin/env python3
"""Writes the malformed GGUF corpus: tests/data/malformed/*.gguf.

Each file breaks exactly one rule of the format, after the failure modes of
llama.cpp's tests/test-gguf.cpp (its HANDCRAFTED_* file types) and of the
published GGUF loader CVEs (lengths and counts that overflow a size
computation or run past the file: CVE-2024-21802, -21825, -21836, -23496,
-23605, -25664, -25665, -25666 against llama.cpp's gguf.c, CVE-2025-53630,
CVE-2026-33298; cut files read out of bounds: Ollama's CVE-2024-39720).

`expected.tsv` lists, for every file, a fragment that the one-line error
sobre's reader gives must contain; crates/gguf/tests/malformed_corpus.rs opens
every file and checks it. A file whose header is whole but whose tensor data
is cut off opens (metadata-only work still runs on it) and fails when the
tensor is read: those are marked `data` in the second column.

Only the Python standard library is used. Run from anywhere:

    python3 tools/make_malformed_gguf.py

The output is deterministic; every file is under 4 KB.
"""

import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "malformed")

# GGUF value type ids.
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
# ggml tensor type ids.
T_F32, T_F16, T_Q4_0 = 0, 1, 2
U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1


class Raw:
    """GGUF bytes built field by field, so each case breaks exactly one."""

    def __init__(self):
        self.b = bytearray()

    def bytes(self, data):
        self.b += data
        return self

    def u32(self, v):
        return self.bytes(struct.pack("<I", v))

    def u64(self, v):
        return self.bytes(struct.pack("<Q", v))

    def str(self, s):
        data = s.encode()
        return self.u64(len(data)).bytes(data)

    def header(self, version=3, n_tensors=0, n_kv=0, magic=b"GGUF"):
        return self.bytes(magic).u32(version).u64(n_tensors).u64(n_kv)

    def kv_u32(self, key, v):
        return self.str(key).u32(U32).u32(v)

    def kv_str(self, key, v):
        return self.str(key).u32(STRING).str(v)

    def tensor(self, name, shape, ty=T_F32, offset=0):
        self.str(name).u32(len(shape))
        for d in shape:
            self.u64(d)
        return self.u32(ty).u64(offset)

    def pad(self, align=32):
        while len(self.b) % align:
            self.b.append(0)
        return self

    def zeros(self, n):
        self.b += bytes(n)
        return self


def valid_prefix(n_tensors, n_kv=1):
    """A header with one ordinary metadata key, as most real files have."""
    return Raw().header(3, n_tensors, n_kv).kv_str("general.architecture", "llama")


CASES = []


def case(name, expect, data, when="open"):
    CASES.append((name, expect, when, bytes(data.b if isinstance(data, Raw) else data)))


# --- header (HANDCRAFTED_HEADER_*) -------------------------------------------
case("header_empty_file", "cut off at byte 0", b"")
case("header_bad_magic", "not a GGUF file", Raw().header(magic=b"GGML"))
case("header_bad_magic_zeros", "not a GGUF file", bytes(24))
case("header_bad_magic_lowercase", "not a GGUF file", Raw().header(magic=b"gguf"))
case("header_bad_version_0", "unsupported GGUF version 0", Raw().header(version=0))
case("header_bad_version_1", "unsupported GGUF version 1", Raw().header(version=1))
case("header_bad_version_future", "unsupported GGUF version 4", Raw().header(version=4))
case("header_bad_version_max", "unsupported GGUF version 4294967295", Raw().header(version=U32_MAX))
case("header_big_endian", "big-endian", Raw().header(version=0x03000000))
case("header_cut_in_version", "while reading the version", b"GGUF\x03\x00")
case("header_cut_in_counts", "while reading the tensor count", b"GGUF\x03\x00\x00\x00\x01\x00")
case("header_bad_n_tensors", "the tensor count", Raw().header(n_tensors=U64_MAX))
# n_tensors * sizeof(tensor info) wraps around u64 (CVE-2024-21836 family).
case("header_n_tensors_overflow", "the tensor count", Raw().header(n_tensors=1 << 59).zeros(64))
case("header_bad_n_kv", "the metadata count", Raw().header(n_kv=U64_MAX))
# n_kv * sizeof(kv) wraps around u64 (CVE-2024-23605 family).
case("header_n_kv_overflow", "the metadata count", Raw().header(n_kv=(1 << 62) + 1).zeros(64))
case("header_n_kv_more_than_present", "cut off", valid_prefix(0, n_kv=3))

# --- metadata (HANDCRAFTED_KV_*) ---------------------------------------------
case("kv_bad_key_size", "metadata key #0", Raw().header(n_kv=1).u64(U64_MAX).bytes(b"key").zeros(16))
# A length whose `len + 1` (for a terminating NUL) wraps to 0 (CVE-2024-23496 family).
case("kv_key_size_wraps", "metadata key #0", Raw().header(n_kv=1).u64(U64_MAX).zeros(32))
case("kv_bad_type", "unknown value type id 13", Raw().header(n_kv=1).str("k").u32(13).u32(0))
case("kv_bad_type_max", "unknown value type id 4294967295", Raw().header(n_kv=1).str("k").u32(U32_MAX).u32(0))
case(
    "kv_string_value_too_long",
    "the value of metadata key",
    Raw().header(n_kv=1).str("general.name").u32(STRING).u64(1 << 62).bytes(b"short"),
)
case("kv_value_cut", "cut off", Raw().header(n_kv=1).str("general.alignment").u32(U32).bytes(b"\x20\x00"))
case(
    "kv_array_huge_count_u8",
    "array \"arr\"",
    Raw().header(n_kv=1).str("arr").u32(ARRAY).u32(U8).u64(U64_MAX // 2).zeros(64),
)
# count * 8 wraps around u64 (CVE-2024-21825 family: arrays of strings).
case(
    "kv_array_count_wraps_strings",
    "array \"tokenizer.ggml.tokens\"",
    Raw().header(n_kv=1).str("tokenizer.ggml.tokens").u32(ARRAY).u32(STRING).u64((1 << 61) + 1).zeros(64),
)
case(
    "kv_array_count_wraps_u64",
    "array \"arr\"",
    Raw().header(n_kv=1).str("arr").u32(ARRAY).u32(U64).u64((1 << 61) + 1).zeros(64),
)
case(
    "kv_array_string_too_long",
    "the value of metadata key \"tokenizer.ggml.tokens\"",
    Raw().header(n_kv=1).str("tokenizer.ggml.tokens").u32(ARRAY).u32(STRING).u64(2).str("a").u64(1 << 40).zeros(16),
)
case(
    "kv_array_bad_element_type",
    "unknown value type id 99",
    Raw().header(n_kv=1).str("arr").u32(ARRAY).u32(99).u64(1).u32(0),
)
_nest = Raw().header(n_kv=1).str("nest").u32(ARRAY)
for _ in range(64):
    _nest.u32(ARRAY).u64(1)
_nest.u32(U8).u64(1).bytes(b"\x07")
case("kv_array_nested_too_deep", "nested deeper", _nest)
case(
    "kv_duplicate_key",
    "appears twice",
    Raw().header(n_kv=2).kv_str("general.architecture", "llama").kv_str("general.architecture", "qwen2"),
)
case("kv_bad_align_zero", "general.alignment = 0", Raw().header(n_kv=1).kv_u32("general.alignment", 0))
case("kv_bad_align_not_pow2", "general.alignment = 31", Raw().header(n_kv=1).kv_u32("general.alignment", 31))
case(
    "kv_bad_align_too_big",
    "general.alignment = 2147483648",
    Raw().header(n_kv=1).kv_u32("general.alignment", 1 << 31),
)
case("kv_bad_align_type", "has type string", Raw().header(n_kv=1).kv_str("general.alignment", "32"))

# --- tensor table (HANDCRAFTED_TENSORS_*) ------------------------------------
case("tensors_bad_n_dims", "5 dimensions", valid_prefix(1).str("t").u32(5).zeros(96))
# n_dims used unchecked as a loop bound over a 4-element array (CVE-2024-21802 family).
case("tensors_n_dims_max", "4294967295 dimensions", valid_prefix(1).str("t").u32(U32_MAX).zeros(96))
case("tensors_bad_shape_zero", "dimension 1 is 0", valid_prefix(1).tensor("t", [4, 0]).pad().zeros(32))
case("tensors_ne_too_big", "overflows", valid_prefix(1).tensor("t", [1 << 62, 4]).pad())
case("tensors_ne_wraps_u64", "overflows", valid_prefix(1).tensor("t", [1 << 32, 1 << 32]).pad())
case("tensors_ne_above_i64", "overflows", valid_prefix(1).tensor("t", [1 << 63]).pad())
# Element count fits, byte count does not (CVE-2026-33298: logical size far past the allocation).
case("tensors_nbytes_too_big", "overflows", valid_prefix(1).tensor("t", [1 << 31, 1 << 31]).pad())
case("tensors_bad_type_retired", "unknown tensor type id 4", valid_prefix(1).tensor("t", [32], ty=4).pad().zeros(32))
case("tensors_bad_type_huge", "unknown tensor type id 1000", valid_prefix(1).tensor("t", [32], ty=1000).pad().zeros(32))
case("tensors_bad_type_max", "unknown tensor type id 4294967295", valid_prefix(1).tensor("t", [32], ty=U32_MAX).pad())
case(
    "tensors_not_block_multiple",
    "not a multiple of Q4_0's block size 32",
    valid_prefix(1).tensor("t", [33], ty=T_Q4_0).pad().zeros(64),
)
case("tensors_bad_offset", "is not a multiple of the alignment 32", valid_prefix(1).tensor("t", [4], offset=7).pad().zeros(64))
case(
    "tensors_bad_alignment",
    "is not a multiple of the alignment 64",
    Raw().header(3, 2, 1).kv_u32("general.alignment", 64).tensor("a", [8]).tensor("b", [8], offset=32).pad(64).zeros(128),
)
# Written for the default alignment 32, then given general.alignment = 128.
case(
    "tensors_inconsistent_alignment",
    "is not a multiple of the alignment 128",
    Raw().header(3, 2, 1).kv_u32("general.alignment", 128).tensor("a", [16]).tensor("b", [16], offset=64).pad(128).zeros(256),
)
case(
    "tensors_offset_overlap",
    "overlaps the previous tensor",
    valid_prefix(2).tensor("a", [16]).tensor("b", [16], offset=32).pad().zeros(128),
)
case(
    "tensors_offset_out_of_order",
    "overlaps the previous tensor",
    valid_prefix(2).tensor("a", [8], offset=64).tensor("b", [8]).pad().zeros(128),
)
# offset + size wraps around u64.
case("tensors_offset_wraps", "data offset 18446744073709551584 plus 256 bytes runs past", valid_prefix(1).tensor("t", [64], offset=U64_MAX - 31).pad())
# The data section's start + offset + size wraps around u64.
case("tensors_data_end_wraps", "data offset 18446744073709551552 plus 16 bytes runs past", valid_prefix(1).tensor("t", [4], offset=U64_MAX - 63).pad())
case(
    "tensors_duplicate_name",
    "tensor name \"w\" appears twice",
    valid_prefix(2).tensor("w", [8]).tensor("w", [8], offset=32).pad().zeros(64),
)
case(
    "tensors_bad_name_size",
    "the name of tensor #0",
    valid_prefix(1).u64(U64_MAX - 7).bytes(b"name").zeros(32),
)
case("tensors_table_cut", "cut off", valid_prefix(2).tensor("a", [8]).str("b").u32(1))

# --- tensor data (HANDCRAFTED_DATA_*) ----------------------------------------
case(
    "data_not_enough_data",
    "lie beyond the end of the file",
    valid_prefix(2).tensor("a", [8]).tensor("b", [256], offset=32).pad().zeros(64),
    when="data",
)
case(
    "data_offset_past_end",
    "lie beyond the end of the file",
    valid_prefix(1).tensor("t", [4], offset=1 << 40).pad().zeros(32),
    when="data",
)
case(
    "data_missing_entirely",
    "lie beyond the end of the file",
    valid_prefix(1).tensor("t", [1024]),
    when="data",
)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".gguf"):
            os.remove(os.path.join(OUT, f))
    names = set()
    lines = [
        "# file\twhen\tfragment of the expected error (written by tools/make_malformed_gguf.py)",
    ]
    for name, expect, when, data in CASES:
        assert name not in names, name
        assert len(data) < 4096, (name, len(data))
        names.add(name)
        with open(os.path.join(OUT, name + ".gguf"), "wb") as f:
            f.write(data)
        lines.append(f"{name}.gguf\t{when}\t{expect}")
    with open(os.path.join(OUT, "expected.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(CASES)} files to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
