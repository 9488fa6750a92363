"""A reasoning model's `<think>` text through the real binary (the DeepSeek-R1
distill's header, answering a scripted text): `reasoning_content` for
OpenAI clients, `thinking` for Ollama's, streamed or not."""

import ollama
import openai
import pytest

MESSAGES = [{"role": "user", "content": "What is 2+2?"}]
REASONING = "\nLet me think.\n"
ANSWER = "The answer is 4."


@pytest.fixture(scope="module")
def oai(deepseek):
    return openai.OpenAI(base_url=f"{deepseek.url}/v1", api_key="unused", max_retries=0)


def test_openai_reasoning_content(oai):
    r = oai.chat.completions.create(model="deepseek-r1", messages=MESSAGES)
    m = r.choices[0].message
    assert m.content == ANSWER
    assert m.model_extra["reasoning_content"] == REASONING
    assert m.model_extra["reasoning"] == REASONING


def test_openai_reasoning_streamed(oai):
    reasoning, content = "", ""
    for c in oai.chat.completions.create(model="deepseek-r1", messages=MESSAGES, stream=True):
        if c.choices:
            d = c.choices[0].delta
            reasoning += (d.model_extra or {}).get("reasoning_content") or ""
            content += d.content or ""
    assert (reasoning, content) == (REASONING, ANSWER)


def test_ollama_thinking(deepseek):
    client = ollama.Client(host=deepseek.url)
    r = client.chat(model="deepseek-r1", messages=MESSAGES, think=True)
    assert (r.message.thinking, r.message.content) == (REASONING, ANSWER)
    parts = list(client.chat(model="deepseek-r1", messages=MESSAGES, think=True, stream=True))
    assert "".join(p.message.thinking or "" for p in parts) == REASONING
    assert "".join(p.message.content for p in parts) == ANSWER
    g = client.generate(model="deepseek-r1", prompt="What is 2+2?", think=True)
    assert (g.thinking, g.response) == (REASONING, ANSWER)
