"""The Next.js guide's route handlers (examples/node/nextjs) in a real Next.js production
server (`next build`, then `next start` on loopback; `cargo xtask test` builds it with the
packed @sipp/sipp-server and sets SIPP_NEXTJS_DIR). A Sipp gateway endpoint and curl call
its routes; the routes run the requests on a direct OpenAI provider endpoint, which
OPENAI_BASE_URL points at a loopback mock."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import sipp
from mock_upstream import MockUpstream, Reply
from servers import free_port, http_ok, running

KEY = "mock-openai-key-0123456789"


def completion(text: str) -> Reply:
    return Reply.json(
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        }
    )


def chunk(text: str, finish: str | None = None) -> str:
    return "data: " + json.dumps({"choices": [{"index": 0, "text": text, "finish_reason": finish}]}) + "\n\n"


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[str, MockUpstream]]:
    app_dir = os.environ.get("SIPP_NEXTJS_DIR")
    if not app_dir or not (Path(app_dir) / ".next" / "BUILD_ID").is_file():
        pytest.fail("the Next.js example is not built; `cargo xtask test` builds it and sets SIPP_NEXTJS_DIR")
    port = free_port()
    with MockUpstream([]) as mock:
        env = {**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{mock.url}/v1", "OPENAI_MODEL": "served-model",
               "NEXT_TELEMETRY_DISABLED": "1"}
        next_bin = str(Path(app_dir) / "node_modules" / "next" / "dist" / "bin" / "next")
        cmd = ["node", next_bin, "start", app_dir, "-p", str(port), "-H", "127.0.0.1"]
        with running(cmd, http_ok(f"http://127.0.0.1:{port}/"), env=env, timeout=90) as log:
            yield f"http://127.0.0.1:{port}", mock
            assert KEY not in log(), "the provider key reached the Next.js log"


def endpoint(client: sipp.SippClient, url: str) -> sipp.EndpointRef:
    routes = sipp.GatewayRoutes(query="/api/sipp/query")
    return client.add("next", sipp.GatewayDescriptor("served-model", url, routes=routes))


def test_a_sipp_gateway_endpoint_calls_the_profile_route(app: tuple[str, MockUpstream]) -> None:
    url, mock = app
    mock.script([completion("Paris (provider)."), Reply.sse([chunk("Pa"), chunk("ris"), chunk("", "stop"), "data: [DONE]\n\n"])])
    before = len(mock.requests)
    client = sipp.SippClient()
    ep = endpoint(client, url)
    r = client.query("Capital of France?", endpoint=ep, options=sipp.SippTextOptions(max_tokens=8)).result()
    assert (r.text, r.finish_reason) == ("Paris (provider).", "stop")
    assert r.usage is not None and r.usage.output_tokens == 3
    run = client.query("Capital of France?", endpoint=ep, emit_tokens=True)
    assert [b.text for b in run] == ["Pa", "ris"]
    assert run.result().text == "Paris"
    sent = mock.requests[before:]
    assert [s.path for s in sent] == ["/v1/completions", "/v1/completions"]
    assert sent[0].json() == {"model": "served-model", "prompt": "Capital of France?", "max_tokens": 8}
    assert sent[0].headers["authorization"] == f"Bearer {KEY}"
    assert sent[1].json()["stream"] is True
    client.close()


def curl(*args: str) -> str:
    return subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True, text=True, check=True).stdout


def test_curl_gets_json_sse_and_plain_text(app: tuple[str, MockUpstream]) -> None:
    url, mock = app
    mock.script([
        completion("Paris (provider)."),
        Reply.sse([chunk("Pa"), chunk("ris"), chunk("", "stop"), "data: [DONE]\n\n"]),
        Reply.sse([chunk("Pa"), chunk("ris"), chunk("", "stop"), "data: [DONE]\n\n"]),
    ])
    body = json.loads(curl("-X", "POST", f"{url}/api/sipp/query", "-H", "content-type: application/json",
                           "-d", json.dumps({"model": "served-model", "prompt": "Capital?", "max_tokens": 8})))
    assert body["text"] == "Paris (provider)." and body["model"] == "served-model" and body["finish_reason"] == "stop"
    sse = curl("-N", "-X", "POST", f"{url}/api/sipp/query", "-H", "content-type: application/json",
               "-d", json.dumps({"model": "served-model", "prompt": "Capital?", "stream": True}))
    events = [f.split("\n")[0] for f in sse.strip().split("\n\n")]
    assert events[:2] == ["event: token", "event: token"] and events[-1] == "event: done", sse
    text = curl("-N", "-X", "POST", f"{url}/api/sipp/stream", "-H", "content-type: application/json",
                "-d", json.dumps({"prompt": "Capital?"}))
    assert text == "Paris"
    bad = curl("-X", "POST", f"{url}/api/sipp/query", "-H", "content-type: application/json",
               "-d", json.dumps({"model": "served-model"}), "-w", "\n%{http_code}")
    payload, status = bad.rsplit("\n", 1)
    assert status == "400" and json.loads(payload)["error"]["code"] == "invalid_request"
    missing = curl("-X", "POST", f"{url}/api/sipp/stream", "-H", "content-type: application/json", "-d", "{}",
                   "-w", "\n%{http_code}")
    assert missing.endswith("\n400")


def test_a_client_disconnect_cancels_the_run(app: tuple[str, MockUpstream]) -> None:
    url, mock = app
    hangups = mock.hangups
    mock.script([Reply.sse([chunk(f"t{i} ") for i in range(200)], stall=True)])
    client = sipp.SippClient()
    run = client.query("Talk forever.", endpoint=endpoint(client, url), emit_tokens=True)
    for i, _batch in enumerate(run):
        if i == 2:
            run.cancel("caller left")
    assert run.result().finish_reason == "cancelled"
    # The route's stream was cancelled, so was its run, so was the provider request.
    mock.wait_hangup(15, after=hangups)
    client.close()
