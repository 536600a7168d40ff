"""Raw-prompt query on a local GGUF model.

    python examples/python/query.py [MODEL.gguf]
"""

from __future__ import annotations

from _model import model_path

from sipp import LocalModelDescriptor, LocalTextOptions, SippClient, SippTextOptions


def main() -> None:
    with SippClient() as client:
        endpoint = client.add("default", LocalModelDescriptor(model_path()))
        # query sends the prompt as is: render the model's own template (ChatML here).
        prompt = "<|im_start|>user\nExplain Sipp in one sentence.<|im_end|>\n<|im_start|>assistant\n"
        response = client.query(
            prompt,
            endpoint=endpoint,
            options=SippTextOptions(max_tokens=64, temperature=0.0),
            local=LocalTextOptions(context_key="example-query"),
        ).result()
        print(response.text)
        if response.usage is not None:  # local endpoints always count tokens
            print(f"[{response.finish_reason}, {response.usage.output_tokens} tokens]")


if __name__ == "__main__":
    main()
