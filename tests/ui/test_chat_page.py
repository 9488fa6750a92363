"""The chat page at `/`, end to end: the release binary on Gemma 3 270M (and
the scripted DeepSeek-R1 header for reasoning), driven in headless Chromium.
Screenshots of each state go to target/ui-screenshots/."""

import json
import re
import time
from urllib.parse import urlsplit

from conftest import Server, gemma_args, metric, screenshot, wait_for

LONG = 120_000  # ms: the model runs at ~20-30 tok/s on 2 loaded cores

LAST = ".msg.assistant:last-child"
ANSWER_DONE = """() => !document.body.classList.contains('busy') &&
    document.querySelector('.msg.assistant:last-child .stats .src, .msg.assistant:last-child .error:not([hidden])')"""


def settings(page, max_tokens=None, temperature=None, system=None):
    page.click("#settings-btn")
    page.wait_for_function("() => document.getElementById('settings').open")
    if max_tokens is not None:
        page.fill("#max-tokens", str(max_tokens))
    if temperature is not None:
        page.fill("#temperature", str(temperature))
    if system is not None:
        page.fill("#system", system)
    page.click("#settings-close")
    page.wait_for_function("() => !document.getElementById('settings').open")


def ready(page):
    """The page is loaded and has listed the model."""
    page.wait_for_selector("#model option", state="attached")


def send(page, text):
    page.fill("#input", text)
    page.press("#input", "Enter")


def body_len(page):
    return page.evaluate(
        """() => { const b = document.querySelector('.msg.assistant:last-child .body');
                   return [b ? b.textContent.length : 0, document.body.classList.contains('busy')]; }"""
    )


def energy_parts(page, selector=LAST):
    return page.locator(f"{selector} .stats > span").all_inner_texts()


def check_energy_line(parts, real_model=True):
    """`N tokens`, `X tok/s`, `X J`, `X J/token`, `X gCO2e`, source (a
    scripted engine does no work: its joules may be 0)."""
    assert len(parts) == 6, parts
    num = r"[0-9][0-9.e+-]*"
    for part, pattern in zip(
        parts,
        [rf"^(\d+) tokens$", rf"^{num} tok/s$", rf"^{num} J$", rf"^{num} J/token$", rf"^{num} gCO2e$",
         r"^(estimated|measured \((rapl|nvml)\))$"],
    ):
        assert re.match(pattern, part), (part, pattern)
    assert int(parts[0].split()[0]) > 0
    assert float(parts[1].split()[0]) > 0
    if real_model:
        assert float(parts[2].split()[0]) > 0


def test_streamed_answer_and_energy_line(gemma, tabs):
    tab = tabs(gemma)
    page = tab.open()
    ready(page)
    assert page.input_value("#model") == "gemma"
    settings(page, max_tokens=40, temperature=0)
    # Shift+Enter is a new line, Enter sends.
    page.fill("#input", "Describe the sea in three sentences.")
    page.press("#input", "Shift+Enter")
    page.type("#input", "Keep it simple.")
    assert page.input_value("#input") == "Describe the sea in three sentences.\nKeep it simple."
    page.press("#input", "Enter")
    assert page.input_value("#input") == ""
    lengths = []
    shot = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        n, busy = body_len(page)
        if not busy:
            break
        if n and (not lengths or n != lengths[-1]):
            lengths.append(n)
            if not shot and n > 20:
                screenshot(page, "01-streaming")
                shot = True
        time.sleep(0.03)
    assert len(lengths) >= 3, f"the answer did not grow while streaming: {lengths}"
    assert lengths == sorted(lengths)
    page.wait_for_function(ANSWER_DONE, timeout=LONG)
    user = page.locator(".msg.user .body").inner_text()
    assert user == "Describe the sea in three sentences.\nKeep it simple."
    assert len(page.locator(f"{LAST} .body").inner_text().strip()) > 0
    parts = energy_parts(page)
    check_energy_line(parts)
    assert int(parts[0].split()[0]) <= 40
    total = page.inner_text("#total")
    assert total.startswith("Conversation: 1 answer, ") and "J/token" in total and "gCO2e" in total, total
    assert page.locator("#conv-list li.current").inner_text().startswith("Describe the sea")
    screenshot(page, "02-answer-energy")
    # The request the page sent.
    posts = [r for r in tab.requests if r.url.endswith("/v1/chat/completions")]
    assert len(posts) == 1
    body = json.loads(posts[0].post_data)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 40 and body["temperature"] == 0 and body["model"] == "gemma"


def test_stop_a_long_answer(gemma, tabs):
    tab = tabs(gemma)
    page = tab.open()
    ready(page)
    settings(page, max_tokens=1500, temperature=0)
    send(page, "Count from 1 to 500, one number per line.")
    page.wait_for_function(
        "() => document.querySelector('.msg.assistant:last-child .body').textContent.length > 30", timeout=LONG
    )
    assert page.evaluate("document.body.classList.contains('busy')"), "the answer ended before the test could stop it"
    assert metric(gemma, "sobre_requests_running") == 1
    screenshot(page, "03-before-stop")
    page.click("#stop")
    page.wait_for_function("() => !document.body.classList.contains('busy')", timeout=10_000)
    stopped_at = body_len(page)[0]
    assert wait_for(lambda: metric(gemma, "sobre_requests_running") == 0, timeout=5), "the server kept generating"
    generated = metric(gemma, "sobre_tokens_generated_total")
    time.sleep(2)
    assert body_len(page)[0] == stopped_at, "the text kept growing after stop"
    assert metric(gemma, "sobre_tokens_generated_total") == generated
    assert page.inner_text(f"{LAST} .stats").startswith("stopped after ")
    assert page.is_visible("#send") and not page.is_visible("#stop")
    screenshot(page, "04-stopped")


def test_reload_keeps_the_conversation(gemma, tabs):
    tab = tabs(gemma)
    page = tab.open()
    ready(page)
    settings(page, max_tokens=16, temperature=0)
    send(page, "Name a color.")
    page.wait_for_function(ANSWER_DONE, timeout=LONG)
    answer = page.inner_text(f"{LAST} .body")
    parts = energy_parts(page)
    page.reload()
    ready(page)
    assert page.inner_text(".msg.user .body") == "Name a color."
    assert page.inner_text(f"{LAST} .body") == answer
    assert energy_parts(page)[:6] == parts
    assert page.inner_text("#conv-list li.current") == "Name a color."
    assert page.input_value("#max-tokens") == "16"  # settings are kept too
    stored = page.evaluate("JSON.parse(localStorage.getItem('sobre.conversations'))")
    assert len(stored) == 1 and [m["role"] for m in stored[0]["messages"]] == ["user", "assistant"]
    screenshot(page, "05-after-reload")
    # A new conversation, then back to the first one.
    page.click("#new")
    assert page.locator(".msg").count() == 0
    page.click("#conv-list li button.open")
    assert page.inner_text(".msg.user .body") == "Name a color."


def test_api_key_is_asked_for_then_used(tabs):
    server = Server(gemma_args("--api-key", "s3cret-k3y"))
    tab = tabs(server)
    try:
        page = tab.open()
        page.wait_for_function("() => document.getElementById('key-dialog').open", timeout=30_000)
        assert "needs an API key" in page.inner_text("#key-reason")
        screenshot(page, "06-api-key-asked")
        page.fill("#key-input", "wrong")
        page.click("#key-ok")
        page.wait_for_function("() => document.getElementById('key-reason').textContent.includes('refused')")
        assert page.evaluate("document.getElementById('key-dialog').open")
        page.fill("#key-input", "s3cret-k3y")
        page.click("#key-ok")
        ready(page)
        assert not page.evaluate("document.getElementById('key-dialog').open")
        settings(page, max_tokens=12, temperature=0)
        send(page, "Say hello.")
        page.wait_for_function(ANSWER_DONE, timeout=LONG)
        check_energy_line(energy_parts(page))
        screenshot(page, "07-api-key-answer")
        api = [r for r in tab.requests if "/v1/" in r.url]
        assert [r.all_headers().get("authorization") for r in api] == [None, "Bearer wrong", "Bearer s3cret-k3y",
                                                                 "Bearer s3cret-k3y"]
        # Not remembered unless asked: a new tab asks again.
        assert page.evaluate("localStorage.getItem('sobre.apiKey')") is None
    finally:
        tab.context.close()  # before the server stops: no connection left open
        assert server.stop() == 0


def test_only_the_server_is_reached(gemma, tabs):
    tab = tabs(gemma)
    page = tab.open()
    ready(page)
    settings(page, max_tokens=8, temperature=0, system="Answer in French.")
    send(page, "Hello!")
    page.wait_for_function(ANSWER_DONE, timeout=LONG)
    first = page.inner_text(f"{LAST} .body")
    # Regenerate replaces the answer.
    page.click(f"{LAST} button.regen")
    page.wait_for_function(ANSWER_DONE, timeout=LONG)
    assert page.locator(".msg.assistant").count() == 1
    assert page.inner_text(f"{LAST} .body") == first  # temperature 0
    assert page.inner_text("#total").startswith("Conversation: 1 answer, ")
    posts = [json.loads(r.post_data) for r in tab.requests if r.url.endswith("/v1/chat/completions")]
    assert len(posts) == 2 and posts[0]["messages"] == posts[1]["messages"]
    assert posts[0]["messages"][0] == {"role": "system", "content": "Answer in French."}
    # Export as JSON.
    with page.expect_download() as dl:
        page.click("#export")
    exported = json.loads(open(dl.value.path()).read())
    assert exported["format"] == "sobre-chat"
    assert [m["role"] for m in exported["conversations"][0]["messages"]] == ["user", "assistant"]
    # Theme toggle, kept over a reload.
    page.click("#theme")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    ready(page)
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert tab.foreign_requests() == []
    paths = {urlsplit(r.url).path for r in tab.requests if not r.url.startswith(("blob:", "data:"))}
    assert paths == {"/", "/v1/models", "/v1/chat/completions"}, paths
    assert len(tab.requests) >= 6


def test_reasoning_is_a_collapsible_block(deepseek, tabs):
    tab = tabs(deepseek)
    page = tab.open()
    ready(page)
    send(page, "What is 2 + 2?")
    page.wait_for_function(ANSWER_DONE, timeout=60_000)
    think = page.locator(f"{LAST} details.think")
    assert think.count() == 1
    assert not think.evaluate("d => d.open")
    assert page.inner_text(f"{LAST} details.think summary") == "Reasoning"
    assert page.inner_text(f"{LAST} .body") == "The answer is 4."
    page.click(f"{LAST} details.think summary")
    assert think.evaluate("d => d.open")
    assert page.inner_text(f"{LAST} details.think .thought") == "Let me think."
    check_energy_line(energy_parts(page), real_model=False)
    screenshot(page, "08-reasoning")


MARKDOWN = """# A title

Some **bold**, *italic*, `inline code` and a [link](https://example.com/x_y_z?a=1&b=2).
A [bad link](javascript:alert(1)) and <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>

- one
- two

1. first
2. second

```python
print("hi <b>")
```

## C# *tips* #
"""


def seed(page, scheme_toggle=None):
    """Stores a conversation with Markdown, reasoning and energy figures."""
    conv = {
        "id": "seeded", "title": "Markdown sample", "created": 1, "updated": 2,
        "messages": [
            {"role": "user", "content": "Show me some Markdown <b>please</b>"},
            {"role": "assistant", "model": "gemma", "reasoning": "The user wants Markdown.",
             "content": MARKDOWN,
             "stats": {"prompt_tokens": 12, "completion_tokens": 64, "tok_s": 25.4, "joules": 3.2,
                       "source": "estimate", "gco2e": 0.000171, "grid_gco2e_per_kwh": 56}},
        ],
    }
    page.evaluate(
        "c => { localStorage.setItem('sobre.conversations', JSON.stringify([c]));"
        " localStorage.setItem('sobre.current', JSON.stringify(c.id)); }",
        conv,
    )
    page.reload()
    ready(page)


def test_markdown_is_rendered_safely(gemma, tabs):
    tab = tabs(gemma)
    page = tab.open()
    ready(page)
    seed(page)
    body = f"{LAST} .body"
    assert page.inner_text(f"{body} h1") == "A title"
    assert page.inner_text(f"{body} strong") == "bold"
    assert page.inner_text(f"{body} em") == "italic"
    assert page.inner_text(f"{body} p code") == "inline code"
    link = page.locator(f"{body} a")
    assert link.count() == 1
    assert link.get_attribute("href") == "https://example.com/x_y_z?a=1&b=2"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert page.locator(f"{body} ul li").all_inner_texts() == ["one", "two"]
    assert page.locator(f"{body} ol li").all_inner_texts() == ["first", "second"]
    assert page.inner_text(f"{body} h2") == "C# tips"
    assert page.inner_text(f"{body} h2 em") == "tips"
    assert page.inner_text(f"{body} pre code") == 'print("hi <b>")'
    assert page.inner_text(f"{body} .codeblock .bar span") == "python"
    assert page.locator("#messages img, #messages script, .msg.user b").count() == 0
    assert page.evaluate("window.__xss") is None
    assert "<img src=x" in page.inner_text(body)
    assert page.inner_text(".msg.user .body") == "Show me some Markdown <b>please</b>"
    check_energy_line(energy_parts(page))
    assert page.inner_text("#total") == (
        "Conversation: 1 answer, 64 tokens, 3.2 J, 0.05 J/token, 0.00017 gCO2e (estimated)"
    )
    screenshot(page, "09-markdown-light")


def test_themes_and_phone_width(gemma, tabs):
    for scheme in ["light", "dark"]:
        for name, (w, h) in {"desktop": (1280, 800), "phone": (390, 844)}.items():
            tab = tabs(gemma, width=w, height=h, scheme=scheme)
            page = tab.open()
            ready(page)
            seed(page)
            bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
            dark = scheme == "dark"
            r = int(re.match(r"rgb\((\d+)", bg).group(1))
            assert (r < 100) == dark, (scheme, bg)
            # Nothing wider than the screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= w
            for sel in ["#input", "#send", "#model", "#settings-btn", "#theme"]:
                box = page.locator(sel).bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= w + 1, (sel, box)
            screenshot(page, f"10-{name}-{scheme}")
            if name == "phone":
                assert page.is_visible("#menu-btn")
                page.click("#menu-btn")
                page.wait_for_timeout(300)
                assert page.locator("#sidebar").bounding_box()["x"] >= 0
                screenshot(page, f"11-phone-{scheme}-conversations")
                page.click("#conv-list li button.open")
                page.wait_for_timeout(300)
                assert page.locator("#sidebar").bounding_box()["x"] < 0
            else:
                assert not page.is_visible("#menu-btn")


def test_every_control_is_labelled(gemma, tabs):
    tab = tabs(gemma)
    page = tab.open()
    ready(page)
    seed(page)
    page.click("#settings-btn")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('button, input, select, textarea')]
                  .filter(el => !(el.getAttribute('aria-label') || '').trim() && !(el.labels && el.labels.length))
                  .map(el => el.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == []
    screenshot(page, "12-settings")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('settings').open")
    # Keyboard only: Tab reaches the message box and Enter sends.
    page.focus("#input")
    assert page.evaluate("document.activeElement.id") == "input"
