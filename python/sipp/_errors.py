"""Exceptions raised by sipp.

Every error carries a stable machine-readable ``code`` (the same codes the gateway uses).
Classes also derive from the built-in that fits, so ``except ValueError`` still catches
invalid requests and ``except FileNotFoundError`` a missing model file.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
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
    "NotFoundError",
    "NotSupportedYetError",
    "OverloadedError",
    "PayloadTooLargeError",
    "ProtocolError",
    "RequestTimeoutError",
    "SippError",
    "TransportError",
    "UnavailableError",
    "UnknownEndpointError",
    "UnsupportedOperationError",
]


class SippError(Exception):
    """Base class of every sipp error.

    Errors from a gateway or provider also carry the HTTP ``status`` (None for errors
    inside a stream), the remote side's own ``upstream_code``, and ``retry_after`` (seconds,
    from ``Retry-After``) when the server asked the caller to wait.
    """

    code: str
    status: int | None
    upstream_code: str | None
    retry_after: float | None

    def __init__(
        self,
        message: str,
        code: str = "sipp_error",
        *,
        status: int | None = None,
        upstream_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.upstream_code = upstream_code
        self.retry_after = retry_after


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
    """The endpoint's queue is full, or a remote one answered 429; retry later
    (``retry_after`` says when, if the server did)."""


class AuthenticationError(SippError, PermissionError):
    """The gateway or provider did not accept the credential (401), or the value
    provider failed to produce one."""


class AuthorizationError(SippError, PermissionError):
    """The credential is valid but may not use this target (403)."""


class NotFoundError(SippError, LookupError):
    """The gateway target or provider model does not exist (404)."""


class PayloadTooLargeError(InvalidRequestError):
    """The request body is larger than the server accepts (413)."""


class UnavailableError(SippError):
    """The remote side is temporarily unable to serve (503, Anthropic's 529)."""


class TransportError(SippError, ConnectionError):
    """The gateway or provider could not be reached, or the connection broke."""


class RequestTimeoutError(SippError, TimeoutError):
    """A remote request ran past a deadline of its ``TimeoutPolicy``."""


class ProtocolError(SippError):
    """The remote side answered something its API does not allow (not JSON, a stream
    that ended before its final event)."""


class CancelledError(SippError):
    """The operation was cancelled before it produced a result."""


class EndpointClosedError(SippError):
    """The endpoint was closed or replaced while the request was running."""


class ExecutionError(SippError, RuntimeError):
    """Running the request failed (in llama.cpp, or on the remote side: HTTP 500)."""


#: The class of each ``sipp::ErrorCode`` (``schema/sipp.schema.json``); a test checks that
#: it names every code and nothing else.
CLASS_OF_CODE: dict[str, type[SippError]] = {
    "model_not_found": ModelNotFoundError,
    "not_gguf": NotGgufError,
    "model_load": ModelLoadError,
    "invalid_config": InvalidConfigError,
    "not_supported": NotSupportedYetError,
    "backend_unavailable": BackendUnavailableError,
    "invalid_request": InvalidRequestError,
    "context_overflow": ContextOverflowError,
    "grammar": GrammarError,
    "unsupported_operation": UnsupportedOperationError,
    "chat_template_missing": ChatTemplateMissingError,
    "chat_template": ChatTemplateError,
    "unknown_endpoint": UnknownEndpointError,
    "endpoint_required": EndpointRequiredError,
    "overloaded": OverloadedError,
    "cancelled": CancelledError,
    "endpoint_closed": EndpointClosedError,
    "execution": ExecutionError,
    "authentication": AuthenticationError,
    "authorization": AuthorizationError,
    "not_found": NotFoundError,
    "payload_too_large": PayloadTooLargeError,
    "unavailable": UnavailableError,
    "transport": TransportError,
    "timeout": RequestTimeoutError,
    "protocol": ProtocolError,
}


def class_for(code: str) -> type[SippError]:
    """The exception class of an error code (codes from elsewhere: ``ExecutionError``)."""
    return CLASS_OF_CODE.get(code, ExecutionError)
