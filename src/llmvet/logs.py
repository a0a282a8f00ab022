"""Log lines: the request each one is about, and the server's log formats (text, or JSON lines).

`REQUEST_ID` is set by the proxy when a vetted request starts; every log record made while that request
is handled (llmvet's own, uvicorn's access line) carries it as `request_id`. `logging_config` is the
`logging.config.dictConfig` of `llmvet serve`, handed to uvicorn so every worker process applies it.
"""

from __future__ import annotations

import copy
import logging
from contextvars import ContextVar
from typing import Any, Literal

REQUEST_ID: ContextVar[str | None] = ContextVar("llmvet_request_id", default=None)

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Fields every JSON line has (timestamp is added by the formatter, in ISO 8601 UTC).
JSON_FIELDS = "{levelname}{name}{message}{request_id}"
JSON_RENAMES = {"levelname": "level", "name": "logger"}


class RequestContext(logging.Filter):
    """Adds `request_id` (None outside a request) and, on uvicorn's access lines, the HTTP fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _version, status = record.args
            record.http = {"client": client, "method": method, "path": path, "status": status}
        return True


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        JSON_FIELDS,
        style="{",
        rename_fields=JSON_RENAMES,
        timestamp=True,
        # uvicorn adds an ANSI-coloured copy of some messages: not for a log pipeline
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
    )


def logging_config(level: str, log_format: LogFormat) -> dict[str, Any]:
    """Root (llmvet and libraries) and uvicorn's loggers, all in one format. Text keeps uvicorn's own
    look; JSON writes one object per line to stderr, access lines included (uvicorn itself sets the
    access logger's level, and silences it unless its access log is on)."""
    from uvicorn.config import LOGGING_CONFIG

    level = level.upper()
    if log_format == "text":
        config = copy.deepcopy(LOGGING_CONFIG)
        config["formatters"]["llmvet"] = {"format": TEXT_FORMAT}
        config["handlers"]["llmvet"] = {
            "class": "logging.StreamHandler",
            "formatter": "llmvet",
            "stream": "ext://sys.stderr",
        }
        config["root"] = {"handlers": ["llmvet"], "level": level}
        return config
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "filters": ["request"],
        "stream": "ext://sys.stderr",
    }
    own = {"handlers": ["json"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # by name: uvicorn hands this dict to worker processes
        "filters": {"request": {"()": "llmvet.logs.RequestContext"}},
        "formatters": {"json": {"()": "llmvet.logs.json_formatter"}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": level},
        "loggers": {
            "uvicorn": own,
            "uvicorn.error": {"level": level},
            "uvicorn.access": own,
        },
    }
