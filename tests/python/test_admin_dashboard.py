"""The Admin Dashboard end to end in a real headless browser: Debian's Chromium (installed
by ``cargo xtask test``), driven by Playwright for Python, against the real
``sipp-gateway`` binary serving two local targets and the dashboard's built assets (from
``admin-ui/`` beside the binary, as ``cargo xtask build gateway-server`` stages it, else
from ``SIPP_GATEWAY_ADMIN_ASSETS_DIR``).

What an operator does: a wrong password shows an error; log in; see the targets and the
backend they loaded on; watch a chart move while requests run; block a caller and see its
next request get a 403, unblock it; disable a target and see a 503, map a fallback and
see it serve; log out. Throughout, the page's DOM never holds a bearer token or the
password, nothing is kept in web storage, the session cookie is HTTP-only, and the
page's CSP reports no violation. ``SIPP_WRITE_SCREENSHOT=1`` also saves the main page
to docs/admin-dashboard.png (the README shows it)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright_sync

from conftest import MODEL, ROOT
from servers import free_port, gateway_toml, http_ok, running

TOKEN = "dash-token-0123456789abcdef"
PASSWORD = "dash-admin-password-42"
CALLER = "dashboard-tests"
ASSETS = Path(os.environ.get("SIPP_GATEWAY_ADMIN_ASSETS_DIR", ROOT / "apps/gateway-server/admin-ui/dist"))
CHROMIUM = os.environ.get("SIPP_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking switches Chromium keeps dialling Google's hosts, which
# this closed network refuses many at a time.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, str]]:
    binary = os.environ.get("SIPP_GATEWAY_BIN")
    if not binary or not Path(binary).is_file():
        pytest.fail("sipp-gateway binary missing; `cargo xtask test` builds it and sets SIPP_GATEWAY_BIN")
    beside = Path(binary).parent / "admin-ui"
    assets = beside if (beside / "index.html").is_file() else ASSETS
    if not (assets / "index.html").is_file():
        pytest.fail(f"dashboard assets missing at {assets}; `cargo xtask build gateway-server` builds them")
    public, management = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gateway.toml"
        # Two copies of the default model: one to switch off, one to fall back to.
        targets = "".join(
            f'[[targets]]\nname = "{name}"\ntype = "local"\nmodel = "{MODEL}"\n[targets.runtime.context]\nn_ctx = 512\n'
            for name in ("local", "backup")
        )
        config.write_text(
            gateway_toml(
                public, management, admin_env="DASH_ADMIN_PASSWORD", token_env="DASH_TOKEN", caller=CALLER,
                targets=targets,
            )
        )
        env = {
            **os.environ,
            "DASH_TOKEN": TOKEN,
            "DASH_ADMIN_PASSWORD": PASSWORD,
        }
        if assets != beside:
            env["SIPP_GATEWAY_ADMIN_ASSETS_DIR"] = str(assets)
        ready = http_ok(f"http://127.0.0.1:{management}/readyz", b"ready")
        with running([binary, "serve", "--config", str(config)], ready, env=env, timeout=90) as log:
            yield f"http://127.0.0.1:{public}", f"http://127.0.0.1:{management}"
            text = log()
            assert TOKEN not in text and PASSWORD not in text, "a secret reached the gateway's log"
            assert "admin dashboard" in text and str(assets) in text


def chat(public: str, target: str = "local", token: str = TOKEN) -> tuple[int, dict[str, str], dict[str, Any]]:
    body = {"model": target, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8, "stream": False}
    request = urllib.request.Request(
        f"{public}/v1/chat", data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(e.read())


def test_an_operator_session_in_a_real_browser(gateway: tuple[str, str], tmp_path: Path) -> None:
    public, management = gateway
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium missing at {CHROMIUM}; `cargo xtask test` installs Debian's chromium")
    problems: list[str] = []
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        def no_secret_in_dom() -> None:
            html = page.content()
            assert TOKEN not in html and PASSWORD not in html
            assert page.evaluate("() => [localStorage.length, sessionStorage.length, document.cookie]") == [0, 0, ""]

        # The spec's address, as a new user types it.
        page.goto(f"{management}/admin")
        assert page.url == f"{management}/admin/"
        page.get_by_test_id("password").fill("not-the-password")
        page.get_by_test_id("login").click()
        page.get_by_test_id("login-error").wait_for()
        assert "Wrong password" in page.get_by_test_id("login-error").inner_text()
        assert context.cookies() == []
        no_secret_in_dom()

        page.get_by_test_id("password").fill(PASSWORD)
        page.get_by_test_id("login").click()
        page.get_by_test_id("readiness").wait_for()
        page.wait_for_function("() => document.querySelector('[data-testid=readiness]').textContent === 'ready'")
        (cookie,) = context.cookies()
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/admin")
        no_secret_in_dom()

        # The targets and the backend each loaded on.
        for name in ("local", "backup"):
            page.get_by_test_id(f"overview-target-{name}").wait_for()
            assert page.get_by_test_id(f"backend-{name}").inner_text() == "cpu"

        # A chart moves while requests run.
        chart = page.get_by_test_id("chart-targets")
        before = int(chart.get_attribute("data-points") or 0)
        stop = threading.Event()
        statuses: list[int] = []

        def traffic() -> None:
            while not stop.is_set():
                statuses.append(chat(public)[0])

        worker = threading.Thread(target=traffic)
        worker.start()
        try:
            page.wait_for_function(
                f"() => +document.querySelector('[data-testid=chart-targets]').dataset.points >= {before + 3}",
                timeout=30_000,
            )
            page.wait_for_function(
                "() => document.querySelector('[data-testid=tile-requests] .tile-value').textContent !== '0'",
                timeout=30_000,
            )
        finally:
            stop.set()
            worker.join()
        assert statuses and set(statuses) == {200}, statuses
        assert "local" in chart.inner_text(), "the series is named after the target"
        # Let the next samples land so the picture shows the traffic, then keep it.
        time.sleep(2.5)
        shot = tmp_path / "admin-dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        if os.environ.get("SIPP_WRITE_SCREENSHOT"):
            shutil.copy(shot, ROOT / "docs" / "admin-dashboard.png")

        # Block the caller: its next request gets a 403 in the spec's error shape.
        page.get_by_test_id("tab-access").click()
        page.get_by_test_id(f"block-caller-{CALLER}").click()
        page.get_by_test_id(f"unblock-caller-{CALLER}").wait_for()
        status, _, body = chat(public)
        assert status == 403 and body["error"]["code"] == "authorization", body
        assert "blocked" in body["error"]["message"]
        page.wait_for_function("() => document.querySelector('[data-testid=blocklist]').textContent.includes('1')")
        page.get_by_test_id(f"unblock-caller-{CALLER}").click()
        page.get_by_test_id(f"block-caller-{CALLER}").wait_for()
        assert chat(public)[0] == 200

        # An address block from the form, then lifted.
        page.get_by_test_id("block-address").fill("127.0.0.1")
        page.get_by_test_id("block-address-submit").click()
        page.get_by_test_id("hits-127.0.0.1/32").wait_for()
        assert chat(public)[0] == 403
        page.get_by_role("button", name="Unblock").click()
        page.get_by_text("Nothing is blocked.").wait_for()
        assert chat(public)[0] == 200

        # Disable a target: 503 with the reason; with a fallback mapped, the fallback serves.
        page.get_by_test_id("tab-targets").click()
        page.get_by_test_id("reason-local").fill("maintenance window")
        page.get_by_test_id("disable-local").click()
        page.get_by_test_id("enable-local").wait_for()
        status, headers, body = chat(public)
        assert status == 503 and body["error"]["code"] == "unavailable", body
        assert "maintenance window" in body["error"]["message"]
        page.get_by_test_id("fallback-local").select_option("backup")
        page.wait_for_function("() => document.querySelector('[data-testid=fallback-local]').value === 'backup'")
        status, headers, body = chat(public)
        assert status == 200 and (headers["x-sipp-target"], headers["x-sipp-fallback-from"]) == ("backup", "local")
        assert body["text"]
        page.get_by_test_id("enable-local").click()
        page.get_by_test_id("disable-local").wait_for()
        status, headers, _ = chat(public)
        assert status == 200 and headers["x-sipp-target"] == "local"

        # Every page, and still no secret anywhere in the DOM.
        for tab in ("overview", "targets", "access", "limits", "requests", "audit"):
            page.get_by_test_id(f"tab-{tab}").click()
            page.wait_for_timeout(300)
            no_secret_in_dom()
        page.get_by_test_id("audit").get_by_text("disable_target").first.wait_for()

        page.get_by_test_id("logout").click()
        page.get_by_test_id("login-form").wait_for()
        assert context.cookies() == []
        answer = page.evaluate("() => fetch('api/overview').then(r => r.status)")
        assert answer == 401
        browser.close()
    assert not [p for p in problems if "401" not in p and "403" not in p], problems
