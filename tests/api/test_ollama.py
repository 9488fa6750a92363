"""The Ollama API of `sobre serve` through the official `ollama` client."""

import json
import subprocess

import httpx
import ollama
import pytest

from conftest import GEMMA, THREADS, sobre_bin

OPTIONS = {"temperature": 0, "num_predict": 16}
MESSAGES = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture(scope="module")
def client(gemma):
    return ollama.Client(host=gemma.url, timeout=120)


def test_listings(client, gemma):
    names = [m.model for m in client.list().models]
    assert names == ["gemma"]
    show = client.show("gemma")
    assert show.details.family == "gemma3"
    assert show.details.quantization_level == "Q4_K_M"
    assert "start_of_turn" in show.template
    assert [m.model for m in client.ps().models] == ["gemma"]
    assert httpx.get(f"{gemma.url}/api/version").json()["version"]


def test_chat_streamed_equals_not_streamed(client):
    whole = client.chat(model="gemma", messages=MESSAGES, options=OPTIONS)
    assert whole.done and whole.done_reason in ("stop", "length")
    assert whole.message.role == "assistant" and whole.message.content
    assert whole.prompt_eval_count > 0 and whole.eval_count > 0
    assert whole.eval_duration > 0 and whole.total_duration >= whole.eval_duration
    parts = list(client.chat(model="gemma:latest", messages=MESSAGES, options=OPTIONS, stream=True))
    assert all(not p.done for p in parts[:-1]) and parts[-1].done
    assert "".join(p.message.content for p in parts) == whole.message.content
    assert parts[-1].eval_count == whole.eval_count


def test_generate_raw_equals_sobre_run(client):
    prompt = "The capital of France is"
    whole = client.generate(model="gemma", prompt=prompt, raw=True, options=OPTIONS)
    streamed = "".join(p.response for p in client.generate(
        model="gemma", prompt=prompt, raw=True, options=OPTIONS, stream=True))
    assert streamed == whole.response
    run = subprocess.run(
        [str(sobre_bin()), "run", str(GEMMA), "--prompt", prompt, "-n", "16",
         "--temperature", "0", "--json", "--threads", THREADS],
        check=True, capture_output=True, text=True,
    )
    assert json.loads(run.stdout)["text"] == whole.response
    # Through the template, with a system prompt and stop strings.
    r = client.generate(model="gemma", prompt="Count: 1, 2, 3,", system="Be brief.",
                        options={**OPTIONS, "stop": ["\n"]})
    assert "\n" not in r.response and r.done


def test_energy_and_raw_ndjson(gemma):
    with httpx.stream("POST", f"{gemma.url}/api/chat",
                      json={"model": "gemma", "messages": MESSAGES, "options": OPTIONS}) as r:
        assert r.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert lines[-1]["done"] is True
    assert set(lines[-1]["energy"]) == {"joules", "source", "gco2e", "grid_gco2e_per_kwh"}
    assert all("created_at" in line and line["model"] == "gemma" for line in lines)


def test_errors(client, gemma):
    with pytest.raises(ollama.ResponseError) as e:
        client.chat(model="llama3", messages=MESSAGES)
    assert e.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as e:
        client.chat(model="gemma", messages=MESSAGES, options={"temperature": "hot"})
    assert e.value.status_code == 400
    r = httpx.post(f"{gemma.url}/api/generate", content=b"nope")
    assert r.status_code == 400 and isinstance(r.json()["error"], str)
    assert client.generate(model="gemma", prompt="Hi", options={"num_predict": 2}).done
