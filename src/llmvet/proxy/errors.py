"""Errors the proxy raises while handling a request; each becomes an OpenAI-shaped response."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from llmvet.errors import error_response


class ProxyError(Exception):
    def __init__(
        self, status: int, message: str, type_: str, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param

    def response(self, headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> Response:
        return error_response(self.status, self.message, self.type, self.code, self.param, headers, extra)


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ProxyError:
    return ProxyError(400, message, "invalid_request_error", code, param)


def body_too_large(limit: int) -> ProxyError:
    return ProxyError(413, f"request body is over the {limit}-byte limit", "invalid_request_error", "body_too_large")


def headers_too_large(limit: int) -> ProxyError:
    return ProxyError(
        431, f"request headers are over the {limit}-byte limit", "invalid_request_error", "headers_too_large"
    )


def upstream_unreachable(detail: str) -> ProxyError:
    return ProxyError(502, f"llmvet could not reach the upstream: {detail}", "upstream_error", "upstream_unreachable")


def upstream_timeout(seconds: float, *, whole: bool = False) -> ProxyError:
    said = f"did not finish its answer within {seconds:g}s" if whole else f"did not answer within {seconds:g}s"
    return ProxyError(504, f"the upstream {said}", "upstream_error", "upstream_timeout")


def upstream_bad_response(detail: str) -> ProxyError:
    return ProxyError(
        502, f"the upstream sent an unusable response: {detail}", "upstream_error", "upstream_bad_response"
    )


def upstream_too_large(limit: int) -> ProxyError:
    return ProxyError(
        502, f"the upstream's answer is over the {limit}-byte limit", "upstream_error", "upstream_too_large"
    )
