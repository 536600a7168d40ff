"""Chat with role messages, rendered by the model's own chat template.

    python examples/python/chat.py [MODEL.gguf]
"""

from __future__ import annotations

from _model import model_path

from sipp import ChatMessage, LocalModelDescriptor, SippClient, SippTextOptions


def main() -> None:
    with SippClient() as client:
        endpoint = client.add("chat", LocalModelDescriptor(model_path()))
        messages = [
            ChatMessage("system", "Answer concisely."),
            ChatMessage("user", "What is the capital of France?"),
        ]
        response = client.chat(messages, endpoint=endpoint, options=SippTextOptions(max_tokens=48)).result()
        print(response.text)


if __name__ == "__main__":
    main()
