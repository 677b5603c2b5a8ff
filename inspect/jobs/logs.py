"""Structured logs: one JSON object per line, with the request id of the request being served.

The request id comes from the client's X-Request-ID header when it is a sane token, else a
new one; it is echoed in the response and carried by every log line written while serving
the request (a context variable, so concurrent requests do not mix), so a coordinator's
complaint can be followed through the logs by one id.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import uuid

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "checkonce_request_id", default=None
)
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,64}$")


def request_id_from(header: str | None) -> str:
    """The client's request id when it is a sane token, otherwise a fresh one."""
    if header and _SANE_ID.match(header):
        return header
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, message, request id, fields."""

    def format(self, record: logging.LogRecord) -> str:
        body = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            body["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            body.update(fields)
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs) -> logging.LogRecord:
    # Stamp the id when the record is made: a handler may format it later, elsewhere.
    record = _base_factory(*args, **kwargs)
    if not hasattr(record, "request_id"):
        record.request_id = REQUEST_ID.get()
    return record


def configure_logging(level: str = "INFO") -> None:
    """Send every log line of the process to stderr as JSON (uvicorn's own loggers too)."""
    logging.setLogRecordFactory(_record_with_request_id)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "apscheduler"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The middleware writes one access line per request with its id; uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
