"""Embeddings from a local endpoint loaded with embeddings enabled.

    python examples/python/embed.py [MODEL.gguf]
"""

from __future__ import annotations

import math

from _model import model_path

from sipp import (
    ContextRuntimeConfig,
    LocalEmbedOptions,
    LocalModelDescriptor,
    NativeRuntimeConfig,
    SippClient,
)


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def main() -> None:
    config = NativeRuntimeConfig(context=ContextRuntimeConfig(n_ctx=2048, embeddings=True, pooling="mean"))
    with SippClient() as client:
        endpoint = client.add("embed", LocalModelDescriptor(model_path(), config))
        options = LocalEmbedOptions(normalize=True)
        texts = ["The cat is sleeping on the sofa.", "A cat naps on the couch.", "Taxes are due in April."]
        vectors = [client.embed(t, endpoint=endpoint, local=options).result().values for t in texts]
        print(f"dimensions: {len(vectors[0])}")
        for text, vector in zip(texts[1:], vectors[1:]):
            print(f"{cosine(vectors[0], vector):.3f}  {text}")


if __name__ == "__main__":
    main()
