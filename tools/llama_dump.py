#!/usr/bin/env python3
"""Dumps llama.cpp's intermediate tensors (through its eval callback) for one
prompt fed in one batch, as llama-cpp-python runs it for the goldens
(tools/make_model_goldens.py: 2 threads, n_ctx 512, no flash attention, f16
KV cache).

    python3 tools/llama_dump.py MODEL OUT.npz "prompt text"
    python3 tools/llama_dump.py MODEL OUTDIR "prompt text"   # raw .f32 files

OUT.npz holds every f32/f16 graph node by its ggml name ("attn_norm-0",
"Qcur-3", "l_out-17", "result_output", ...), as float32 arrays shaped
[rows][ne0] (higher dims flattened into rows), plus "prompt_ids" and
"logits" (the last position's logits as llama.cpp returns them).
"""

import ctypes
import os
import sys

import numpy as np
import llama_cpp
from llama_cpp import _internals as internals

GGML_MAX_DIMS, GGML_MAX_SRC = 4, 10


class GgmlTensor(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("buffer", ctypes.c_void_p),
        ("ne", ctypes.c_int64 * GGML_MAX_DIMS),
        ("nb", ctypes.c_size_t * GGML_MAX_DIMS),
        ("op", ctypes.c_int),
        ("op_params", ctypes.c_int32 * 16),
        ("flags", ctypes.c_int32),
        ("src", ctypes.c_void_p * GGML_MAX_SRC),
        ("view_src", ctypes.c_void_p),
        ("view_offs", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("name", ctypes.c_char * 64),
        ("extra", ctypes.c_void_p),
        ("padding", ctypes.c_char * 8),
    ]


DUMPED = {}


def _read(t):
    np_type = {0: np.float32, 1: np.float16}.get(t.type)
    if np_type is None or not t.data:
        return None
    ne = [t.ne[i] for i in range(4)]
    nb = [t.nb[i] for i in range(4)]
    size = max((ne[i] - 1) * nb[i] for i in range(4)) + np.dtype(np_type).itemsize
    buf = (ctypes.c_char * size).from_address(t.data)
    base = np.frombuffer(buf, dtype=np_type)
    arr = np.lib.stride_tricks.as_strided(base, shape=tuple(reversed(ne)),
                                          strides=tuple(reversed(nb)))
    return np.array(arr, dtype=np.float32).reshape(-1, ne[0])


@llama_cpp.ggml_backend_sched_eval_callback
def _callback(tp, ask, _user):
    if ask:
        return True
    t = ctypes.cast(tp, ctypes.POINTER(GgmlTensor)).contents
    name = t.name.decode(errors="replace")
    try:
        a = _read(t)
    except Exception as e:  # never let an exception abort the graph
        print("cannot read", name, list(t.ne), list(t.nb), e, file=sys.stderr)
        a = None
    if a is not None and name:
        # A name given to several nodes (Qcur: projected, reshaped, roped)
        # keeps every version: "Qcur-0", "Qcur-0#1", "Qcur-0#2".
        k, n = name, 1
        while k in DUMPED:
            k, n = f"{name}#{n}", n + 1
        DUMPED[k] = a
    return True


def load(path, dump):
    orig = internals.LlamaContext.__init__

    def patched(self, *, model, params, verbose=True):
        if dump:
            params.cb_eval = _callback
        orig(self, model=model, params=params, verbose=verbose)

    internals.LlamaContext.__init__ = patched
    try:
        return llama_cpp.Llama(model_path=path, n_ctx=512, n_threads=2, seed=0,
                               logits_all=True, verbose=False)
    finally:
        internals.LlamaContext.__init__ = orig


def main():
    model_path, out, text = sys.argv[1:4]
    m = load(model_path, dump=True)
    ids = m.tokenize(text.encode(), add_bos=True, special=True)
    m.reset()
    m.eval(ids)
    logits = np.array(m.scores[len(ids) - 1], dtype=np.float32)
    if out.endswith(".npz"):
        np.savez(out, prompt_ids=np.array(ids), logits=logits, **DUMPED)
    else:
        # A directory of raw little-endian f32 files, for the Rust side.
        os.makedirs(out, exist_ok=True)
        for k, a in DUMPED.items():
            if " " not in k:
                a.astype("<f4").tofile(os.path.join(out, k + ".f32"))
        np.array(ids, dtype="<u4").tofile(os.path.join(out, "prompt_ids.u32"))
    print(len(ids), "tokens,", len(DUMPED), "tensors:", " ".join(sorted(DUMPED)[:40]), "...",
          file=sys.stderr)


if __name__ == "__main__":
    main()
