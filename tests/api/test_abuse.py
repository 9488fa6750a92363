"""Hostile clients against the real binary (issue #11): a thousand mixed good
and bad requests leave memory flat and produce no 5xx; hundreds of idle and
slow-header connections do not block service and are dropped after
--header-timeout.

Requests go through raw http.client and sockets, so that nothing in a client
library hides what the server answered.
"""

import http.client
import json
import random
import resource
import select
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest

from conftest import GEMMA, THREADS, Server, figures, model, wait_for

HEADER_TIMEOUT = 2
WORKERS = 16
REQUESTS = 1000
WARMUP = 100
RSS_BOUND_MIB = 16
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def server():
    # 300 idle + 20 slow sockets, both ends in this process tree.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    s = Server(
        [
            str(model(GEMMA)),
            "--alias", "gemma",
            "--parallel", "4",
            "--ctx-size", "256",
            "--threads", THREADS,
            "--queue", "256",
            "--header-timeout", str(HEADER_TIMEOUT),
            "--idle-timeout", "5",
        ]
    )
    yield s
    assert s.stop() == 0


def address(server):
    u = urlparse(server.url)
    return u.hostname, u.port


def request(server, method, path, body=None, headers=None, timeout=120):
    """One request on a fresh connection: (status, body bytes)."""
    host, port = address(server)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def oversized(server, chunked=False):
    """A body over 8 MiB: the 413 comes before it is all sent; stop sending then."""
    s = socket.create_connection(address(server), timeout=30)
    try:
        size = 9 << 20
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
        s.sendall(
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
            f"Content-Type: application/json\r\n{length}\r\n\r\n".encode()
        )
        piece = b" " * 65536
        if chunked:
            piece = b"10000\r\n" + piece + b"\r\n"
        sent = 0
        try:
            while sent < size and not select.select([s], [], [], 0)[0]:
                s.sendall(piece)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                got = s.recv(65536)
                if not got:
                    break
                data += got
        except ConnectionResetError:
            pass
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None
    finally:
        s.close()


def disconnect_mid_stream(server):
    """Starts a long stream, reads its first bytes and goes away."""
    s = socket.create_connection(address(server), timeout=60)
    try:
        body = json.dumps({"messages": HI, "stream": True, "max_tokens": 200}).encode()
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body
        )
        data = s.recv(4096)
        return int(data.split(b" ", 2)[1])
    finally:
        s.close()


def stream_lines(status, body, sse):
    assert status == 200, body
    text = body.decode()
    if sse:
        assert text.rstrip().endswith("data: [DONE]"), text[-200:]
    else:
        assert json.loads(text.strip().splitlines()[-1])["done"] is True


# (name, expected status, call). Good ones check their answer too.
def good_cases(server):
    def chat(stream):
        def go():
            st, b = request(server, "POST", "/v1/chat/completions",
                            {"model": "gemma", "messages": HI, "max_tokens": random.randint(1, 2),
                             "temperature": 0, "stream": stream})
            if stream:
                stream_lines(st, b, sse=True)
            else:
                assert json.loads(b)["object"] == "chat.completion"
            return st
        return go

    def completion(stream):
        def go():
            st, b = request(server, "POST", "/v1/completions",
                            {"prompt": "The sky is", "max_tokens": 1, "stream": stream})
            if stream:
                stream_lines(st, b, sse=True)
            return st
        return go

    def ollama(path, stream, extra=None):
        def go():
            body = {"model": "gemma", "stream": stream,
                    "options": {"num_predict": random.randint(1, 2), **(extra or {})}}
            if path == "/api/chat":
                body["messages"] = HI
            else:
                body["prompt"] = "Hi"
            st, b = request(server, "POST", path, body)
            if stream:
                stream_lines(st, b, sse=False)
            else:
                assert json.loads(b)["done"] is True
            return st
        return go

    def get(path):
        return lambda: request(server, "GET", path)[0]

    return [
        ("chat", 200, chat(False)),
        ("chat stream", 200, chat(True)),
        ("completion", 200, completion(False)),
        ("completion stream", 200, completion(True)),
        ("ollama chat", 200, ollama("/api/chat", False)),
        ("ollama chat stream", 200, ollama("/api/chat", True)),
        ("ollama generate", 200, ollama("/api/generate", False)),
        ("ollama generate stream", 200, ollama("/api/generate", True)),
        # Once crashed the engine (a 4 TB repeat-penalty window).
        ("huge repeat_last_n", 200, ollama("/api/generate", False, {"repeat_last_n": 10**12})),
        ("models", 200, get("/v1/models")),
        ("health", 200, get("/health")),
        ("metrics", 200, get("/metrics")),
        ("tags", 200, get("/api/tags")),
        ("version", 200, get("/api/version")),
    ]


def bad_cases(server):
    def post(path, body, headers=None):
        return lambda: request(server, "POST", path, body, headers)[0]

    chat = "/v1/chat/completions"
    return [
        ("invalid json", 400, post(chat, b'{"messages": [')),
        ("invalid json ollama", 400, post("/api/generate", b"nope")),
        ("not an object", 400, post(chat, b"[1, 2]")),
        ("empty body", 400, post("/v1/completions", b"")),
        ("messages not a list", 400, post(chat, {"messages": "hi"})),
        ("prompt a number", 400, post("/v1/completions", {"prompt": 3})),
        ("temperature a string", 400, post("/api/generate", {"prompt": "hi", "options": {"temperature": "hot"}})),
        ("huge max_tokens", 400, post(chat, {"messages": HI, "max_tokens": 1e300})),
        ("seed over 64 bits", 400, post(chat, {"messages": HI, "seed": 2**64})),
        ("huge top_logprobs", 400, post(chat, {"messages": HI, "logprobs": True, "top_logprobs": 10**10})),
        ("negative max_tokens", 400, post(chat, {"messages": HI, "max_tokens": -1})),
        ("negative n", 400, post(chat, {"messages": HI, "n": -1})),
        ("negative num_predict", 400, post("/api/generate", {"prompt": "hi", "options": {"num_predict": -7}})),
        ("token id out of range", 400, post("/v1/completions", {"prompt": [10**9]})),
        ("unknown model", 404, post(chat, {"model": "gpt-4o", "messages": HI})),
        ("unknown model ollama", 404, post("/api/chat", {"model": "llama3", "messages": HI})),
        ("unknown endpoint", 404, lambda: request(server, "GET", "/v2/nothing")[0]),
        ("wrong method", 405, lambda: request(server, "GET", chat)[0]),
        ("wrong method ollama", 405, lambda: request(server, "DELETE", "/api/tags")[0]),
        ("foreign host", 403, lambda: request(server, "GET", "/v1/models", headers={"Host": "evil.example"})[0]),
        ("bad utf-8", 400, post("/v1/completions", b'{"prompt": "\xff\xfe\xfd"}')),
        ("deeply nested", 400, post(chat, b'{"messages": ' + b"[" * 100000 + b"]" * 100000 + b"}")),
        ("oversized body", 413, lambda: oversized(server)),
        ("oversized chunked body", 413, lambda: oversized(server, chunked=True)),
        ("disconnect mid-stream", 200, lambda: disconnect_mid_stream(server)),
    ]


def run_mix(server, n, seed):
    """n requests, 60% good and 40% bad, 16 at a time: {name: [statuses]}."""
    rng = random.Random(seed)
    good, bad = good_cases(server), bad_cases(server)
    plan = [rng.choice(good) if rng.random() < 0.6 else rng.choice(bad) for _ in range(n)]

    def one(case):
        name, want, call = case
        try:
            return name, want, call()
        except AssertionError as e:
            return name, want, f"bad answer: {e}"
        except OSError as e:
            return name, want, f"{type(e).__name__}: {e}"

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(one, plan))
    wrong = [(name, want, got) for name, want, got in results if got != want]
    fivexx = [r for r in results if isinstance(r[2], int) and r[2] >= 500]
    assert not fivexx, f"5xx answers: {fivexx[:10]}"
    assert not wrong, f"{len(wrong)} unexpected answers, e.g. {wrong[:10]}"
    return results


def test_a_thousand_mixed_requests_leave_memory_flat_and_no_5xx(server):
    run_mix(server, WARMUP, seed=1)
    assert wait_for(lambda: b"sobre_requests_running 0\n" in request(server, "GET", "/metrics")[1], 30)
    time.sleep(0.5)
    before, rss_before = server.anon_kib(), server.rss_kib()
    started = time.monotonic()
    results = run_mix(server, REQUESTS, seed=2)
    took = time.monotonic() - started
    # Disconnected streams are cancelled: nothing keeps running.
    assert wait_for(lambda: b"sobre_requests_running 0\n" in request(server, "GET", "/metrics")[1], 30)
    time.sleep(0.5)
    after, rss_after = server.anon_kib(), server.rss_kib()
    growth = (after - before) / 1024
    n_bad = sum(1 for _, want, _ in results if want != 200)
    figures.append(
        f"abuse: {REQUESTS} requests ({REQUESTS - n_bad} good, {n_bad} bad) x{WORKERS} in {took:.1f} s, "
        f"no 5xx; anonymous RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB ({growth:+.1f} MiB, "
        f"bound {RSS_BOUND_MIB}); total RSS with the mmapped model {rss_before / 1024:.1f} -> "
        f"{rss_after / 1024:.1f} MiB"
    )
    assert growth < RSS_BOUND_MIB, f"anonymous RSS grew by {growth:.1f} MiB"
    assert server.proc.poll() is None
    assert request(server, "GET", "/health") == (200, b'{"status":"ok"}')


def test_idle_and_slow_header_connections_do_not_block_service(server):
    host, port = address(server)
    idle = [socket.create_connection((host, port), timeout=30) for _ in range(300)]
    slow = []
    for i in range(20):
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: local")
        slow.append(s)
    opened = time.monotonic()
    try:
        # A normal request is answered at once.
        started = time.monotonic()
        status, body = request(server, "POST", "/v1/chat/completions",
                               {"messages": HI, "max_tokens": 1}, timeout=10)
        answered = time.monotonic() - started
        assert status == 200, body
        assert answered < 5, f"answered in {answered:.2f} s"
        # Drip-feeding does not keep a head alive past the timeout.
        for s in slow[:10]:
            s.sendall(b"h")
        # The server closes the slow and silent ones after --header-timeout.
        closed_after = []
        for s in slow + idle[:20]:
            s.settimeout(HEADER_TIMEOUT + 8)
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            assert b"200 OK" not in data, data
            closed_after.append(time.monotonic() - opened)
        latest = max(closed_after)
        assert latest < HEADER_TIMEOUT + 5, f"slow connections lived {latest:.1f} s"
        figures.append(
            f"abuse: 300 idle + 20 slow-header sockets: request answered in {answered * 1000:.0f} ms; "
            f"slow ones closed {min(closed_after):.1f}-{latest:.1f} s after opening "
            f"(--header-timeout {HEADER_TIMEOUT})"
        )
    finally:
        for s in idle + slow:
            s.close()
    assert request(server, "GET", "/health")[0] == 200
