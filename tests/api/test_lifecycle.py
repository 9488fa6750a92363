"""Startup, API key and graceful shutdown of the real binary."""

import threading
import time

import httpx
import openai

from conftest import REASONING_ANSWER, Server, DEEPSEEK, model, script_ids


def scripted(*extra, env=None):
    ids = ",".join(str(i) for i in script_ids(REASONING_ANSWER * 40))
    return Server([str(model(DEEPSEEK)), "--alias", "r1", "--scripted-tokens", ids, *extra], env=env)


def test_banner_and_api_key():
    server = scripted(env={"SOBRE_API_KEY": "k3y"})
    try:
        assert server.url.startswith("http://127.0.0.1:")
        assert "(model r1, 4 parallel, ctx 4096, energy source " in server.banner, server.banner
        assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
        r = httpx.get(f"{server.url}/v1/models")
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        ok = openai.OpenAI(base_url=f"{server.url}/v1", api_key="k3y", max_retries=0)
        assert ok.models.list().data[0].id == "r1"
        bad = openai.OpenAI(base_url=f"{server.url}/v1", api_key="nope", max_retries=0)
        try:
            bad.models.list()
            raise AssertionError("a wrong key was accepted")
        except openai.AuthenticationError:
            pass
    finally:
        assert server.stop() == 0


def test_sigterm_drains_requests_in_flight():
    server = scripted()
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    result = {}

    def long_request():
        chunks = list(client.chat.completions.create(
            model="r1", messages=[{"role": "user", "content": "hi"}], stream=True))
        result["finish"] = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        result["text"] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    t = threading.Thread(target=long_request)
    t.start()
    time.sleep(0.3)  # the request is streaming
    started = time.monotonic()
    code = server.stop(timeout=60)
    t.join(timeout=60)
    assert code == 0
    assert result.get("finish") == "stop", result
    assert result["text"].endswith("The answer is 4.")
    assert time.monotonic() - started < 30
    try:
        httpx.get(f"{server.url}/health", timeout=2)
        raise AssertionError("still answering after SIGTERM")
    except httpx.TransportError:
        pass
