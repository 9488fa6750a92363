#!/usr/bin/env python3
"""Golden renders of chat templates, from Jinja2 set up as Hugging Face's
`apply_chat_template` sets it up (transformers' `_compile_jinja_template`):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[loopcontrols]), `tojson` = json.dumps(ensure_ascii=False),
`raise_exception`, `strftime_now`.

Templates: the DeepSeek-R1-Distill-Qwen template read from the model file,
sobre's built-in formats (crates/chat/src/builtin.rs, copied below and
checked against the Rust source), and small templates that exercise the
features real templates use (namespace, loop controls, string methods,
slicing, tojson, raise_exception).

Writes tests/data/chat/goldens.json:
  {"templates": {name: source}, "cases": [{"template", "messages",
   "add_generation_prompt", "bos_token", "eos_token", "expected" | "error"}]}

Usage: python3 tools/make_chat_goldens.py    (needs jinja2, gguf; models from scripts/fetch-models)
"""
import json
import os
import re
import subprocess

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def hf_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def rust_builtin(name):
    """The template source of a builtin, parsed out of builtin.rs."""
    src = open(os.path.join(ROOT, "crates/chat/src/builtin.rs")).read()
    m = re.search(r"const %s: &str = \"(.*?)\";" % name, src, re.S)
    body = m.group(1)
    # Rust string continuation: a backslash-newline swallows the newline and
    # the next line's leading whitespace; then the usual escapes.
    body = re.sub(r"\\\n\s*", "", body)
    return body.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")


def deepseek_template():
    paths = subprocess.run([os.path.join(ROOT, "scripts/fetch-models"), "--print"],
                           check=True, capture_output=True, text=True).stdout.split()
    path = paths[1]
    # The file's weights are cut off; read the header from a sparse copy.
    try:
        r = gguf.GGUFReader(path)
    except ValueError:
        import shutil, tempfile
        sparse = os.path.join(tempfile.mkdtemp(), "padded.gguf")
        shutil.copyfile(path, sparse)
        os.truncate(sparse, 1 << 40)
        r = gguf.GGUFReader(sparse)
    return r.fields["tokenizer.chat_template"].contents()


TEMPLATES = {
    "features": (
        "{% set ns = namespace(n=0, sys='') %}"
        "{% for m in messages %}{% if m.role == 'system' %}{% set ns.sys = m.content.strip() %}{% continue %}{% endif %}"
        "{% set ns.n = ns.n + 1 %}"
        "[{{ ns.n }}|{{ m['role'] | upper }}|{{ m.content.split(' ')[0] }}|{{ m.content[:3] }}|"
        "{{ m.content.startswith('Bon') }}|{{ m.content | length }}|{{ m.content.replace('a', 'A') }}]\n"
        "{% if loop.index > 5 %}{% break %}{% endif %}"
        "{% endfor %}"
        "{{ ns.sys | tojson }}|{{ messages | selectattr('role', 'equalto', 'user') | list | length }}"
        "{% if add_generation_prompt %}<gen>{% endif %}"
    ),
    "tojson": "{% for m in messages %}{{ m | tojson }}\n{% if m.tool_calls is defined %}{{ m.tool_calls | tojson(indent=2) }}{% endif %}{% endfor %}",
    "raises": "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('tools are not supported by this template') }}{% endif %}{{ m.content }}{% endfor %}",
    "whitespace": "{% for m in messages %}\n  {% if m.role == 'user' %}\n    U: {{ m.content }}\n  {% else %}\n    A: {{ m.content }}\n  {% endif %}\n{% endfor %}\n{%- if add_generation_prompt %}\nA:{% endif %}",
}

CONVERSATIONS = [
    [{"role": "user", "content": "Bonjour, comment ça va ?"}],
    [{"role": "system", "content": "  Tu es un assistant concis.  "},
     {"role": "user", "content": "Quelle est la capitale de la France ?"}],
    [{"role": "user", "content": "What is 2+2?"},
     {"role": "assistant", "content": "<think>\nSimple addition.\n</think>\n\n4"},
     {"role": "user", "content": "And 3+3? <b>bold</b> \"quoted\" 日本語 🇫🇷"}],
    [{"role": "system", "content": "Be brief."},
     {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
     {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"},
     {"role": "user", "content": "e"}, {"role": "assistant", "content": "f"},
     {"role": "user", "content": "g"}],
    [{"role": "user", "content": "Weather in Paris?"},
     {"role": "assistant", "content": None, "tool_calls": [
         {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
     {"role": "tool", "content": "{\"temp\": 12}"},
     {"role": "user", "content": "Thanks\n\twith tabs\n"}],
    [],
]


def main():
    templates = dict(TEMPLATES)
    templates["deepseek-r1-qwen"] = deepseek_template()
    templates["builtin-gemma"] = rust_builtin("GEMMA")
    templates["builtin-chatml"] = rust_builtin("CHATML")
    env = hf_env()
    cases = []
    for name, src in templates.items():
        tmpl = env.from_string(src)
        for conv in CONVERSATIONS:
            for gen in (True, False):
                case = {"template": name, "messages": conv, "add_generation_prompt": gen,
                        "bos_token": "<BOS>", "eos_token": "<EOS>"}
                try:
                    case["expected"] = tmpl.render(messages=conv, add_generation_prompt=gen,
                                                   bos_token="<BOS>", eos_token="<EOS>")
                except Exception as e:  # noqa: BLE001 - any failure is a golden "error"
                    case["error"] = f"{type(e).__name__}: {e}"
                cases.append(case)
    out = os.path.join(ROOT, "tests/data/chat/goldens.json")
    with open(out, "w") as f:
        json.dump({"templates": templates, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    ok = sum("expected" in c for c in cases)
    print(f"{out}: {len(cases)} cases ({ok} rendered, {len(cases) - ok} errors)")


if __name__ == "__main__":
    main()
