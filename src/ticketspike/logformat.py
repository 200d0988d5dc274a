"""Log lines as plain text or JSON lines, never carrying a secret.

``ticketspike serve --log-format json`` (or ``TICKETSPIKE_LOG_FORMAT=json`` for every
command) writes one JSON object a line, for a log shipper::

    {"timestamp": "2026-12-02T15:04:05.123Z", "level": "info", "logger": "ticketspike.engine",
     "event": "acme opened episode ep-1 (high)", "fields": {}}

``fields`` holds what a caller passed with ``extra=`` (and ``exception`` the traceback).
Plain text, with a UTC timestamp, stays the default.

Secrets are kept out twice over: the code logs :class:`~ticketspike.secrets.Secret` values
only as their redacted repr, and :class:`Redactor` replaces, in every finished line, the value
of every environment variable whose name says it holds one (``*TOKEN*``, ``*SECRET*``,
``*PASSWORD*``, ``*KEY*``) and the password of any URL (``postgresql://user:***@host``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import IO, Any

from ._logsafe import EscapeControl
from .errors import InputError

__all__ = [
    "FORMATS",
    "JsonFormatter",
    "Redactor",
    "TextFormatter",
    "configure_logging",
    "log_format_from_env",
]

FORMATS = ("text", "json")
ENV_VAR = "TICKETSPIKE_LOG_FORMAT"
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]+@", re.I)
_MIN_SECRET = 6  # shorter values ("1", "true") would redact ordinary words
_REDACTED = "[redacted]"

# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class Redactor:
    """Replaces known secret values and URL passwords in a finished log line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s for s in secrets if len(s) >= _MIN_SECRET}
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted(values, key=len, reverse=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Redactor:
        """Every value of a variable named like a secret, and each comma-separated part."""
        env = os.environ if env is None else env
        found: list[str] = []
        for name, value in env.items():
            if not _SECRET_NAME.search(name) or not value.strip():
                continue
            found.append(value.strip())
            found.extend(part.strip() for part in re.split(r"[,\s]+", value) if part.strip())
        return cls(found)

    def __call__(self, line: str) -> str:
        for secret in self._secrets:
            if secret in line:
                line = line.replace(secret, _REDACTED)
        return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", line)


def _timestamp(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, tz=timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: timestamp, level, logger, event, fields."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")
        }
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        data = {
            "timestamp": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "fields": fields,
        }
        # ensure_ascii: control, bidi and separator characters come out escaped.
        return self.redact(json.dumps(data, default=str, ensure_ascii=True))


class TextFormatter(logging.Formatter):
    """``2026-12-02T15:04:05.123Z INFO    ticketspike.http: message``, redacted."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__("%(levelname)-7s %(name)s: %(message)s")
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(f"{_timestamp(record)} {super().format(record)}")


def log_format_from_env(
    value: str | None = None, *, env: Mapping[str, str] | None = None
) -> str | None:
    """``value`` (a flag), else ``$TICKETSPIKE_LOG_FORMAT``, else ``None``; checked."""
    env = os.environ if env is None else env
    chosen = value if value is not None else env.get(ENV_VAR) or None
    if chosen is None:
        return None
    chosen = chosen.strip().lower()
    if chosen not in FORMATS:
        where = "--log-format" if value is not None else f"${ENV_VAR}"
        raise InputError(f"expected one of {', '.join(FORMATS)}, got {chosen!r}", field=where)
    return chosen


def configure_logging(
    log_format: str = "text",
    *,
    level: int | str = logging.INFO,
    stream: IO[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Send every log record (the root logger's) to ``stream`` (default stderr) in one format.

    Replaces the root logger's handlers, so uvicorn's and the host's loggers come out alike.
    Returns the handler.
    """
    redact = Redactor.from_env(env)
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(redact))
    else:
        handler.setFormatter(TextFormatter(redact))
    handler.addFilter(EscapeControl())  # ids and ticket text cannot forge a log line
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
