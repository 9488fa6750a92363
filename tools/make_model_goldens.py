#!/usr/bin/env python3
"""Greedy-decoding goldens from llama.cpp (through llama-cpp-python) for the
`model` crate's tests; the tests themselves never need llama.cpp.

    python3 tools/make_model_goldens.py            # everything
    python3 tools/make_model_goldens.py --only tiny
    python3 tools/make_model_goldens.py --only gemma

Writes to tests/data/model/:
  tiny.json         for each tiny model (built by `cargo run --release -p model
                    --example make_tiny_models`): prompts, their ids, 24 greedy ids
  gemma3.json       Gemma 3 270M Q4_K_M: per prompt the ids, 32 greedy ids, the
                    top-1/top-2 logit margin at every generated step, the top 50
                    (id, logit) after the prompt, and `self_spread`: how far
                    llama.cpp's own logits after the prompt move when the prompt
                    is fed one token at a time instead of in one batch
                    (max|a-b| / max|b|) -- the noise floor of this model
  gemma3_prompt0_logits.npy   the full logit vector after prompt 0, float16

llama.cpp runs on 2 threads, n_ctx 512, default batch (the prompt in one batch,
then one token per step -- what `sobre run` does), no flash attention, f16 KV
cache: llama-cpp-python's defaults.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "model")
MODELS = os.environ.get("SOBRE_MODELS", os.path.expanduser("~/.cache/sobre/models"))
GEMMA = os.path.join(MODELS, "gemma-3-270m-q4_k_m.gguf")

GEMMA_PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "La tour Eiffel a été construite en",
    "Le petit prince demanda au renard :",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "fn main() {\n    let v: Vec<u32> =",
    "The three primary colors are",
    "Water boils at a temperature of",
    "<start_of_turn>user\nWhat is 2 + 2?<end_of_turn>\n<start_of_turn>model\n",
    "Pour faire une omelette, il faut",
    "SELECT name, age FROM users WHERE",
    "In 1969, Neil Armstrong",
]

TINY_PROMPTS = [
    "Hello world, this is",
    "Bonjour, je m'appelle",
    "def add(a, b):",
    "1 2 3 4 5",
]


def load(path, n_ctx=512):
    return llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=2, seed=0,
                           logits_all=True, verbose=False)


def greedy(m, ids, n):
    """n greedy ids after `ids`, and the logits row used for each step."""
    m.reset()
    out = []
    for tok in m.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0,
                          repeat_penalty=1.0):
        if m.token_eos() == tok or llama_cpp.llama_vocab_is_eog(
                llama_cpp.llama_model_get_vocab(m.model), tok):
            break
        out.append(int(tok))
        if len(out) == n:
            break
    rows = [np.array(m.scores[len(ids) - 1 + i], dtype=np.float32) for i in range(len(out))]
    return out, rows


def tiny(tiny_dir):
    if tiny_dir is None:
        tiny_dir = tempfile.mkdtemp(prefix="sobre-tiny-")
        subprocess.run(["cargo", "run", "--quiet", "--release", "-p", "model",
                        "--example", "make_tiny_models", "--", tiny_dir],
                       cwd=ROOT, check=True)
    result = {"llama_cpp_python": llama_cpp.__version__, "n_predict": 24, "models": {}}
    for name in sorted(os.listdir(tiny_dir)):
        if not name.endswith(".gguf"):
            continue
        m = load(os.path.join(tiny_dir, name), n_ctx=256)
        cases = []
        for text in TINY_PROMPTS:
            ids = m.tokenize(text.encode(), add_bos=True, special=True)
            gen, rows = greedy(m, ids, 24)
            margins = [float(np.sort(r)[-1] - np.sort(r)[-2]) for r in rows]
            cases.append({"prompt": text, "prompt_ids": ids, "ids": gen,
                          "margins": [round(x, 6) for x in margins]})
        result["models"][name] = cases
        print(name, [len(c["ids"]) for c in cases], file=sys.stderr)
    with open(os.path.join(OUT, "tiny.json"), "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


def gemma():
    m = load(GEMMA)
    cases = []
    for k, text in enumerate(GEMMA_PROMPTS):
        ids = m.tokenize(text.encode(), add_bos=True, special=True)
        gen, rows = greedy(m, ids, 32)
        first = rows[0]
        # llama.cpp's own noise floor: the same prompt fed token by token.
        m.reset()
        for t in ids:
            m.eval([t])
        incr = np.array(m.scores[len(ids) - 1], dtype=np.float32)
        spread = float(np.abs(incr - first).max() / np.abs(first).max())
        top = np.argsort(-first, kind="stable")[:50]
        margins = []
        for r in rows:
            s = np.sort(r)
            margins.append(round(float(s[-1] - s[-2]), 6))
        cases.append({
            "prompt": text,
            "prompt_ids": ids,
            "ids": gen,
            "margins": margins,
            "top50_ids": [int(i) for i in top],
            "top50_logits": [float(first[i]) for i in top],
            "logit_max_abs": float(np.abs(first).max()),
            "logit_mean": float(first.mean()),
            "logit_std": float(first.std()),
            "self_spread": round(spread, 6),
        })
        if k == 0:
            np.save(os.path.join(OUT, "gemma3_prompt0_logits.npy"), first.astype(np.float16))
        print(repr(text[:30]), len(ids), len(gen), "min margin %.4f" % min(margins),
              "self spread %.4f" % spread, file=sys.stderr)
    with open(os.path.join(OUT, "gemma3.json"), "w") as f:
        json.dump({"llama_cpp_python": llama_cpp.__version__, "model": os.path.basename(GEMMA),
                   "n_predict": 32, "cases": cases}, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["tiny", "gemma"])
    ap.add_argument("--tiny-dir", help="tiny models already written by make_tiny_models")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    if args.only in (None, "tiny"):
        tiny(args.tiny_dir)
    if args.only in (None, "gemma"):
        gemma()


if __name__ == "__main__":
    main()
