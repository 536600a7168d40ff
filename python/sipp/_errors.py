"""Exceptions raised by sipp.

Every error carries a stable machine-readable ``code`` (the same codes the gateway uses).
Classes also derive from the built-in that fits, so ``except ValueError`` still catches
invalid requests and ``except FileNotFoundError`` a missing model file.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "CancelledError",
    "ChatTemplateError",
    "ChatTemplateMissingError",
    "ContextOverflowError",
    "EndpointClosedError",
    "EndpointRequiredError",
    "ExecutionError",
    "GrammarError",
    "InvalidConfigError",
    "InvalidRequestError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NotGgufError",
    "NotSupportedYetError",
    "OverloadedError",
    "SippError",
    "UnknownEndpointError",
    "UnsupportedOperationError",
]


class SippError(Exception):
    """Base class of every sipp error."""

    code: str

    def __init__(self, message: str, code: str = "sipp_error") -> None:
        super().__init__(message)
        self.code = code


class ModelLoadError(SippError):
    """The model could not be loaded."""


class ModelNotFoundError(ModelLoadError, FileNotFoundError):
    """The model path does not exist."""


class NotGgufError(ModelLoadError):
    """The file is not a GGUF model."""


class InvalidConfigError(SippError, ValueError):
    """A runtime config value is invalid."""


class NotSupportedYetError(InvalidConfigError):
    """A config field whose behaviour is not built yet (refused, never ignored)."""


class BackendUnavailableError(SippError):
    """The requested backend was not compiled in or has no device here."""


class InvalidRequestError(SippError, ValueError):
    """A request field is invalid."""


class ContextOverflowError(InvalidRequestError):
    """The prompt does not fit the context window."""


class GrammarError(InvalidRequestError):
    """A GBNF grammar or JSON schema could not be compiled."""


class UnsupportedOperationError(SippError):
    """The endpoint cannot do this operation (for example embed on a text endpoint)."""


class ChatTemplateMissingError(UnsupportedOperationError):
    """Chat on a model without tokenizer.chat_template; use query instead."""


class ChatTemplateError(SippError):
    """The model's chat template failed to render."""


class UnknownEndpointError(SippError, LookupError):
    """No endpoint with this id is registered."""


class EndpointRequiredError(SippError, ValueError):
    """The request named no endpoint and the choice is ambiguous."""


class OverloadedError(SippError):
    """The endpoint's queue is full; retry later."""


class CancelledError(SippError):
    """The operation was cancelled before it produced a result."""


class EndpointClosedError(SippError):
    """The endpoint was closed or replaced while the request was running."""


class ExecutionError(SippError, RuntimeError):
    """llama.cpp failed while running the request."""
