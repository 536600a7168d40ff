"""One client, three endpoint kinds, identical call code: a local GGUF model, a Sipp
gateway and a provider API. Only the EndpointRef changes.

    SIPP_GATEWAY_URL=http://127.0.0.1:8080 SIPP_GATEWAY_TOKEN=... SIPP_GATEWAY_TARGET=local \\
    OPENAI_API_KEY=... python examples/python/hybrid.py [MODEL.gguf]

Optional: OPENAI_MODEL (default gpt-5-mini) and OPENAI_BASE_URL (any OpenAI-compatible
server, e.g. a llama-server; then the key may be omitted).
"""

from __future__ import annotations

import os

from _model import model_path

from sipp import (
    ChatMessage,
    EndpointRef,
    GatewayDescriptor,
    LocalModelDescriptor,
    ProviderDescriptor,
    SippClient,
    SippTextOptions,
)


def main() -> None:
    with SippClient() as client:
        endpoints: list[EndpointRef] = [client.add("local", LocalModelDescriptor(model_path()))]
        endpoints.append(
            client.add(
                "gateway",
                GatewayDescriptor(
                    os.environ["SIPP_GATEWAY_TARGET"],
                    os.environ["SIPP_GATEWAY_URL"],
                    authentication_kind="bearer",
                    authentication_value=os.environ["SIPP_GATEWAY_TOKEN"],
                ),
            )
        )
        base_url = os.environ.get("OPENAI_BASE_URL")
        endpoints.append(
            client.add(
                "provider",
                ProviderDescriptor(
                    "openai_compatible" if base_url else "openai",
                    os.environ.get("OPENAI_MODEL", "gpt-5-mini"),
                    api_key=os.environ.get("OPENAI_API_KEY"),
                    base_url=base_url,
                ),
            )
        )

        messages = [
            ChatMessage("system", "Answer concisely."),
            ChatMessage("user", "What is the capital of France?"),
        ]
        # The same call for every kind; only the endpoint differs.
        runs = [client.chat(messages, endpoint=ep, options=SippTextOptions(max_tokens=48)) for ep in endpoints]
        for endpoint, run in zip(endpoints, runs):
            response = run.result()
            print(f"[{endpoint.kind}] {' '.join(response.text.split())}")  # one line per endpoint


if __name__ == "__main__":
    main()
