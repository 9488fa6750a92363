#!/usr/bin/env python3
"""Tokenizer speed, sobre against llama.cpp (llama-cpp-python), same text,
same machine, same run.

Usage: python3 tools/bench_tokenizer.py [MODELS_DIR]

The text is about 1 MB of French made with Faker's fr_FR locale (seed 42:
paragraphs, names, addresses, phrases), written to
target/bench/french-1mb.txt; it is not kept in the repository. Needs
`pip install faker llama-cpp-python` and builds the `bench_encode` example
with --release. Each side encodes the whole text (add BOS, parse specials)
RUNS times; the best time counts.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_tokenizer_goldens import MODELS, load_vocab  # noqa: E402

RUNS = 5
ROOT = Path(__file__).resolve().parent.parent


def french_text(path, size=1_000_000):
    from faker import Faker

    Faker.seed(42)
    fake = Faker("fr_FR")
    parts, n = [], 0
    while n < size:
        chunk = "\n".join(
            [
                fake.paragraph(nb_sentences=8),
                f"{fake.name()}, {fake.job()}, habite au {fake.address()}.",
                f"« {fake.catch_phrase()} », dit-elle le {fake.date()} à {fake.time()}.",
                fake.text(max_nb_chars=400),
                "",
            ]
        )
        parts.append(chunk)
        n += len(chunk.encode())
    text = "".join(parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


def main():
    import tempfile

    models_dir = Path(
        sys.argv[1]
        if len(sys.argv) > 1
        else os.environ.get("SOBRE_MODELS", Path.home() / ".cache/sobre/models")
    )
    text_path = ROOT / "target/bench/french-1mb.txt"
    text = french_text(text_path)
    data = text.encode()
    print(f"text: {text_path} ({len(data)} bytes)")
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "tokenizer", "--example", "bench_encode"],
        cwd=ROOT,
        check=True,
    )
    exe = ROOT / "target/release/examples/bench_encode"
    tmp = tempfile.mkdtemp()
    for name, file in MODELS.items():
        path = models_dir / file
        llm = load_vocab(path, tmp)
        times = []
        for _ in range(RUNS):
            t = time.perf_counter()
            ids = llm.tokenize(data, add_bos=True, special=True)
            times.append(time.perf_counter() - t)
        ref = len(ids)
        best = min(times)
        ids_path = text_path.with_name(f"{name}.ids.json")
        ids_path.write_text(json.dumps(ids))
        out = subprocess.run(
            [str(exe), str(path), str(text_path), str(RUNS), str(ids_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        ours = json.loads(out.stdout)
        same = "ids identical" if ours["identical"] else f"IDS DIFFER ({ref} tokens for llama.cpp)"
        print(
            f"{name}: {ours['tokens']} tokens ({same}); "
            f"sobre {ours['best_s']:.3f} s = {ours['tokens_per_s']:,.0f} tok/s; "
            f"llama.cpp {best:.3f} s = {ref / best:,.0f} tok/s; "
            f"ratio {best / ours['best_s']:.2f}x"
        )


if __name__ == "__main__":
    main()
