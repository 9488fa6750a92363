"""Fixtures for the API tests: the real `sobre serve` binary on the test
models, reached through the official `openai` and `ollama` clients.

The binary is target/release/sobre (scripts/test builds it), or $SOBRE_BIN.
Figures worth keeping (concurrency ratio, load-test latencies, RSS) are
recorded with `figures.append(...)` and printed at the end of the run.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("SOBRE_MODELS", Path.home() / ".cache/sobre/models"))
GEMMA = MODELS / "gemma-3-270m-q4_k_m.gguf"
DEEPSEEK = MODELS / "deepseek-r1-distill-qwen-7b-q4_k_m.part0000.gguf"
REASONING_ANSWER = "<think>\nLet me think.\n</think>\n\nThe answer is 4."
THREADS = str(min(os.cpu_count() or 1, 4))

figures = []


def sobre_bin():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = Path(os.environ.get("SOBRE_BIN", target / "release/sobre"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: cargo build --release -p sobre")
    return path


def model(path):
    if not path.is_file():
        pytest.fail(f"test model {path} is missing: run scripts/fetch-models")
    return path


class Server:
    """A running `sobre serve`; stop() sends SIGTERM and returns the exit code."""

    def __init__(self, args, env=None):
        self.proc = subprocess.Popen(
            [str(sobre_bin()), "serve", *args, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **(env or {})},
        )
        line = self.proc.stdout.readline()
        match = re.match(r"listening on (http://\S+) \(", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"sobre serve did not start: {line!r}")
        self.banner = line.strip()
        self.url = match.group(1)

    @property
    def pid(self):
        return self.proc.pid

    def rss_kib(self, field="VmRSS"):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def anon_kib(self):
        """Resident anonymous memory (heap, stacks): what a leak grows.
        VmRSS also counts the model's mmapped pages, which the kernel evicts
        and faults back in at will, so it moves by tens of MiB on its own."""
        return self.rss_kib("RssAnon")

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="session")
def gemma():
    """Gemma 3 270M served as `gemma`, 8 parallel sequences."""
    server = Server(
        [
            str(model(GEMMA)),
            "--alias",
            "gemma",
            "--parallel",
            "8",
            "--ctx-size",
            "512",
            "--threads",
            THREADS,
            "--queue",
            "256",
        ]
    )
    yield server
    assert server.stop() == 0


def script_ids(text):
    out = subprocess.run(
        [str(sobre_bin()), "tokenize", str(model(DEEPSEEK)), "--no-bos", "--json", text],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)["ids"]


@pytest.fixture(scope="session")
def deepseek():
    """The DeepSeek-R1 distill's header with a scripted answer."""
    ids = ",".join(str(i) for i in script_ids(REASONING_ANSWER))
    server = Server([str(model(DEEPSEEK)), "--alias", "deepseek-r1", "--scripted-tokens", ids])
    yield server
    assert server.stop() == 0


def pytest_terminal_summary(terminalreporter):
    if figures:
        terminalreporter.write_sep("-", "sobre serve figures")
        for line in figures:
            terminalreporter.write_line(line)


def wait_for(predicate, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
