"""Fixtures for the chat page tests: the real `sobre serve` binary (the
Server class of tests/api/conftest.py, loaded by path) driven by Playwright
in Debian's Chromium, headless.

Needs `pip install playwright` (not `playwright install`: the system's
Chromium is used) and `apt-get install chromium`; $SOBRE_CHROMIUM names
another Chromium binary. Screenshots go to target/ui-screenshots/.

While editing the page, SOBRE_UI_FROM_SOURCE=1 serves crates/server/ui/index.html
from disk in place of the embedded copy (with the server's own headers), so
the tests run without rebuilding the binary. CI never sets it.
"""

import importlib.util
import os
import shutil
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "target" / "ui-screenshots"
PAGE_SOURCE = ROOT / "crates/server/ui/index.html"


def _api_conftest():
    spec = importlib.util.spec_from_file_location("sobre_api_conftest", ROOT / "tests/api/conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_api = _api_conftest()
Server = _api.Server
GEMMA = _api.GEMMA
DEEPSEEK = _api.DEEPSEEK
REASONING_ANSWER = _api.REASONING_ANSWER
THREADS = _api.THREADS
model = _api.model
script_ids = _api.script_ids
wait_for = _api.wait_for

INSTALL_HINT = (
    "the chat page tests need Playwright for Python and a Chromium binary:\n"
    "    python3 -m pip install playwright      # no `playwright install`: the system Chromium is used\n"
    "    sudo apt-get install -y chromium       # Debian/Ubuntu (or set SOBRE_CHROMIUM=/path/to/chromium)\n"
    ".ci/run installs both."
)


def chromium_binary():
    path = os.environ.get("SOBRE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not Path(path).is_file():
        pytest.fail(f"Chromium is missing: {INSTALL_HINT}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None:
        pytest.fail(f"Playwright is missing: {INSTALL_HINT}", pytrace=False)
    path = chromium_binary()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield b
        b.close()


def gemma_args(*extra):
    return [str(model(GEMMA)), "--alias", "gemma", "--parallel", "2", "--ctx-size", "2048",
            "--threads", THREADS, *extra]


@pytest.fixture(scope="session")
def gemma():
    """Gemma 3 270M served as `gemma`."""
    server = Server(gemma_args())
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="session")
def deepseek():
    """The DeepSeek-R1 distill's header answering a scripted `<think>` answer."""
    ids = ",".join(str(i) for i in script_ids(REASONING_ANSWER))
    server = Server([str(model(DEEPSEEK)), "--alias", "deepseek-r1", "--scripted-tokens", ids])
    yield server
    assert server.stop() == 0


class Tab:
    """A page in its own browser context (fresh localStorage), with every
    request it made and every script error or CSP report it raised."""

    def __init__(self, browser, server, width, height, scheme):
        self.server = server
        self.context = browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme=scheme,
            accept_downloads=True,
        )
        self.page = self.context.new_page()
        self.requests = []
        self.problems = []
        self.page.on("request", lambda r: self.requests.append(r))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("console", self._console)
        self.page.set_default_timeout(120_000)
        if os.environ.get("SOBRE_UI_FROM_SOURCE") == "1":
            self.context.route(server.url + "/", self._from_source)

    @staticmethod
    def _from_source(route):
        served = route.fetch()
        route.fulfill(response=served, body=PAGE_SOURCE.read_text())

    def _console(self, msg):
        text = msg.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.problems.append(f"console: {text}")

    def open(self):
        self.page.goto(self.server.url + "/")
        return self.page

    def foreign_requests(self):
        """Requests to anything but the server's own origin."""
        origin = urlsplit(self.server.url)
        bad = []
        for r in self.requests:
            url = r.url
            if url.startswith("data:"):
                continue
            if url.startswith("blob:"):
                url = url[len("blob:"):]
            u = urlsplit(url)
            if (u.scheme, u.hostname, u.port) != (origin.scheme, origin.hostname, origin.port):
                bad.append(r.url)
        return bad


@pytest.fixture
def tabs(browser):
    """tabs(server, width=1280, height=800, scheme="light") -> Tab; at the end
    of the test, every tab must have talked to its server only, without a
    script error or a CSP violation."""
    made = []

    def make(server, width=1280, height=800, scheme="light"):
        tab = Tab(browser, server, width, height, scheme)
        made.append(tab)
        return tab

    yield make
    for tab in made:
        tab.context.close()
    for tab in made:
        assert tab.foreign_requests() == [], "the page reached other hosts"
        assert tab.problems == [], "the page raised errors"


def screenshot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def metrics(server, key=None):
    req = urllib.request.Request(server.url + "/metrics")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def metric(server, name, key=None):
    for line in metrics(server, key).splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")
