#!/usr/bin/env python3
"""llama.cpp's side of bench/compare: pp and tg as llama-bench measures them.

pp: one batch of P prompt tokens decoded from an empty context.
tg: N tokens decoded one at a time from an empty context; with --parallel K,
N steps that each decode one token of each of K sequences (llama-server's
batching of K requests), tok/s counting every sequence's tokens.
Tokens are random ids (llama-bench does the same), timings are the best of
--reps runs. Prints one JSON object {"pp_tok_s", "tg_tok_s", "threads", ...}.

Uses llama-cpp-python's low-level API, so Python overhead is one call per
decode, as in llama-bench. Install llama.cpp tuned for this CPU with:
  CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python
"""
import argparse
import json
import random
import time

import llama_cpp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=1)
    args = ap.parse_args()
    k = max(args.parallel, 1)

    llama_cpp.llama_backend_init()
    mparams = llama_cpp.llama_model_default_params()
    model = llama_cpp.llama_model_load_from_file(args.model.encode(), mparams)
    if not model:
        raise SystemExit(f"llama.cpp cannot load {args.model}")
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    cparams = llama_cpp.llama_context_default_params()
    # Each sequence gets a context of its own size (llama.cpp splits n_ctx
    # between n_seq_max sequences).
    cparams.n_ctx = k * (args.p + args.n + 16)
    cparams.n_batch = max(args.p, k, 1)
    cparams.n_ubatch = max(args.p, k, 1)
    cparams.n_seq_max = k
    cparams.n_threads = args.threads
    cparams.n_threads_batch = args.threads
    ctx = llama_cpp.llama_init_from_model(model, cparams)
    mem = llama_cpp.llama_get_memory(ctx)
    rng = random.Random(0)

    def decode(entries):
        """One llama_decode of (token, position, sequence, logits?) entries."""
        batch = llama_cpp.llama_batch_init(len(entries), 0, 1)
        batch.n_tokens = len(entries)
        for i, (token, pos, seq, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        rc = llama_cpp.llama_decode(ctx, batch)
        llama_cpp.llama_batch_free(batch)
        if rc != 0:
            raise SystemExit(f"llama_decode failed: {rc}")

    def run_pp():
        llama_cpp.llama_memory_clear(mem, True)
        toks = [rng.randrange(n_vocab) for _ in range(args.p)]
        t0 = time.perf_counter()
        decode([(t, i, 0, i == args.p - 1) for i, t in enumerate(toks)])
        llama_cpp.llama_synchronize(ctx)
        return time.perf_counter() - t0

    def run_tg():
        llama_cpp.llama_memory_clear(mem, True)
        t0 = time.perf_counter()
        for pos in range(args.n):
            # One token of each sequence, every one with logits (a server
            # samples each).
            decode([(rng.randrange(n_vocab), pos, seq, True) for seq in range(k)])
        llama_cpp.llama_synchronize(ctx)
        return time.perf_counter() - t0

    # Warm-up, as llama-bench does.
    if args.p:
        run_pp()
    else:
        run_tg()
    pp = min(run_pp() for _ in range(args.reps)) if args.p else 0.0
    tg = min(run_tg() for _ in range(args.reps)) if args.n else 0.0
    print(json.dumps({
        "engine": "llama.cpp",
        "version": llama_cpp.__version__,
        "pp_tok_s": args.p / pp if pp else None,
        "tg_tok_s": k * args.n / tg if tg else None,
        "tg_step_ms": tg / args.n * 1e3 if tg else None,
        "threads": args.threads,
        "parallel": k,
        "p": args.p,
        "n": args.n,
    }))
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)


if __name__ == "__main__":
    main()
