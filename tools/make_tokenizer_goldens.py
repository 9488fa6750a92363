#!/usr/bin/env python3
"""Golden token ids from llama.cpp (through llama-cpp-python) for the tokenizer tests.

Usage: python3 tools/make_tokenizer_goldens.py [MODELS_DIR]

MODELS_DIR defaults to $SOBRE_MODELS or ~/.cache/sobre/models (where
scripts/fetch-models puts the files). Writes:

    tests/data/tokenizer/gemma3.json
    tests/data/tokenizer/deepseek-r1-qwen.json

each a list of {"text", "add_bos", "special", "ids", "detok"} where `ids` is
`Llama.tokenize(text.encode(), add_bos=add_bos, special=special)` and `detok`
is llama.cpp's `token_to_piece` concatenation (special=True) of the ids
without the leading BOS, which the tests compare with `Tokenizer::decode`.

Only the vocabulary is loaded (`vocab_only=True`), so the DeepSeek file whose
weights are cut off works. Needs `pip install llama-cpp-python`.
"""

import json
import os
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import llama_cpp

MODELS = {
    "gemma3": "gemma-3-270m-q4_k_m.gguf",
    "deepseek-r1-qwen": "deepseek-r1-distill-qwen-7b-q4_k_m.part0000.gguf",
}

TEXTS = [
    "",
    " ",
    "  ",
    "Hello world",
    " Hello world",
    "Hello world ",
    "hello   world",
    "Bonjour, je m'appelle Amélie et j'habite à Montréal.",
    "L'été dernier, nous sommes allés à la mer ; c'était génial !",
    "Où est l'hôtel ? « Là-bas », répondit-il — à côté de l'église.",
    "Ça coûte 12,50 € TTC, soit 1 234 567 francs CFA.",
    "Les œufs, la bœuf-carotte et l'Æther : ŒUVRE complète.",
    "中文测试：我爱自然语言处理。",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 문장입니다.",
    "مرحبا بالعالم، كيف حالك؟",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "Привет, мир! Ёжик в тумане.",
    "Ελληνικά: αβγδε ΑΒΓΔΕ",
    "Emoji: 😀🎉👍🏽 and ❤️",
    "Family: 👨‍👩‍👧‍👦 ZWJ, 🧑🏿‍🚀 astronaut",
    "Flags: 🇫🇷🇩🇪🇯🇵 🏳️‍🌈",
    "Numbers: 0 7 42 123 1234 12345 1234567 3.14159 -273.15 1e-9",
    "Phone +33 6 12 34 56 78, date 2024-07-14T12:00:00Z",
    "It's, don't, they're, we've, I'm, you'll, he'd; IT'S DON'T THEY'RE",
    "Visit https://example.com/path?q=1&lang=fr#top or mail a.b@example.org",
    '{"name": "Zoé", "age": 31, "tags": ["a", "b"], "ok": true, "x": null}',
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "fn main() {\n\tlet v: Vec<u32> = (0..10).collect();\n\tprintln!(\"{:?}\", v);\n}\n",
    "#include <stdio.h>\nint main(void) { return 0; }",
    "<html><body><table><tr><td>cell</td></tr></table></body></html>",
    "\n",
    "\n\n\n",
    "line one\nline two\r\nline three\rend",
    "\t",
    "  \t ",
    "tabs\tand\t\tmore\t\t\ttabs",
    "many          spaces                                         here",
    "x" + " " * 40 + "y" + "\n" * 35 + "z",
    "non\u00a0breaking\u00a0space and narrow\u202fnbsp",
    "zero\u200bwidth\u200bspace and\u200djoiner\ufeffbom",
    "ideographic\u3000space and em\u2003space",
    "combining: e\u0301 a\u0300 n\u0303 vs é à ñ",
    "mixed: Paris 巴黎 Париж باريس पेरिस 🗼",
    "<think>\nLet me think about it.\n</think>\n\nThe answer is 42.",
    "<|im_start|>user\nBonjour !<|im_end|>\n<|im_start|>assistant\n",
    "<start_of_turn>user\nSalut<end_of_turn>\n<start_of_turn>model\n",
    "text<bos>more<eos>end",
    "<｜User｜>Quelle heure est-il ?<｜Assistant｜>",
    "<|endoftext|> after",
    "Unfinished <think tag and < b > and <start_of_turn",
    "ALL CAPS SENTENCE WITH ACCENTS: ÉTÉ, NOËL, ÎLE",
    "math: ∑_{i=1}^{n} i² = n(n+1)/2, √2 ≈ 1.414, ∞ ≠ ∅",
    "control chars: \x01\x02\x7f end",
    "private use \ue000 and astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "...!!!???,,,;;;:::---___===+++***",
    "'quoted' \"double\" `back` ‘curly’ “curly”",
    "   leading and trailing   ",
]

# (text, add_bos, special) cases beyond the default add_bos=True, special=True.
EXTRA = [
    ("Hello world", False, True),
    ("", False, True),
    ("<think>plain</think>", True, False),
    ("<start_of_turn>user\nhi<end_of_turn>", True, False),
    ("<|im_start|>user<|im_end|>", False, False),
    ("<bos>text<eos>", False, False),
    ("Bonjour à tous", False, False),
]


def pieces(llm, ids):
    out = b""
    buf = llama_cpp.ctypes.create_string_buffer(256)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    for t in ids:
        n = llama_cpp.llama_token_to_piece(vocab, t, buf, 256, 0, True)
        assert 0 <= n <= 256
        out += buf.raw[:n]
    return out


def load_vocab(path, tmp_dir):
    """Loads only the vocabulary. llama.cpp checks every tensor's bounds even
    with vocab_only, so a file whose weights are cut off is copied with its
    tensor count set to 0 (the metadata, all the vocabulary needs, is intact)."""
    try:
        return llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    except ValueError:
        copy = Path(tmp_dir) / path.name
        shutil.copyfile(path, copy)
        with open(copy, "r+b") as f:
            assert f.read(4) == b"GGUF"
            f.seek(8)
            f.write(struct.pack("<Q", 0))
        return llama_cpp.Llama(model_path=str(copy), vocab_only=True, verbose=False)


def main():
    models_dir = Path(
        sys.argv[1]
        if len(sys.argv) > 1
        else os.environ.get("SOBRE_MODELS", Path.home() / ".cache/sobre/models")
    )
    out_dir = Path(__file__).resolve().parent.parent / "tests/data/tokenizer"
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = [(t, True, True) for t in TEXTS] + EXTRA
    tmp_dir = tempfile.mkdtemp()
    for name, file in MODELS.items():
        llm = load_vocab(models_dir / file, tmp_dir)
        bos = llm.token_bos()
        rows = []
        for text, add_bos, special in cases:
            ids = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)
            body = ids[1:] if add_bos and ids and ids[0] == bos else ids
            detok = pieces(llm, body).decode("utf-8", errors="replace")
            rows.append(
                {"text": text, "add_bos": add_bos, "special": special, "ids": ids, "detok": detok}
            )
        path = out_dir / f"{name}.json"
        with open(path, "w", encoding="utf-8") as f:
            f.write("[\n")
            f.write(",\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
            f.write("\n]\n")
        print(f"{path}: {len(rows)} cases")
    shutil.rmtree(tmp_dir)


if __name__ == "__main__":
    main()
