"""Logging for every mode: one JSON object per line in `serve`/`socket`, plain lines in the shell.

    configure_logging(json=True, secrets=secrets_of(settings))

A redaction filter on the handler replaces every configured secret and anything shaped
like a Slack token, a response URL, a `token=` query value or a URL password with
"[redacted]" in the message, its arguments, the `extra=` fields and the traceback.
That is the second line of defence; the first is that the libraries which log request
bodies at DEBUG (Bolt, the Slack SDK) are held at WARNING.
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.settings import Settings

REDACTED = "[redacted]"
# Shorter configured values are not redacted: they would blank out ordinary words.
MIN_SECRET_LENGTH = 8
HUMAN_FORMAT = "%(levelname)s %(name)s: %(message)s"
# Bolt and the Slack SDK log whole request bodies and Web API arguments at DEBUG.
QUIET_LOGGERS = (
    "slack_bolt",
    "slack_sdk",
    "parley.bolt",
    "httpcore",
    "aiosqlite",
    "apscheduler",
)
# slack_sdk asks its own loggers' `level`, not their effective one, before it formats a
# DEBUG line of each Web API call's whole arguments (a `views.publish` view, every call), so
# a level inherited from "slack_sdk" does not spare that work: these get theirs set.
LEVEL_CHECKED_LOGGERS = (
    "slack_sdk.web.async_base_client",
    "slack_sdk.web.base_client",
    "slack_sdk.socket_mode.aiohttp",
)
_PATTERNS = (
    (re.compile(r"xox[a-z]-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"xapp-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"https://hooks\.slack(?:-gov)?\.com/\S+"), REDACTED),
    (re.compile(r"([?&](?:token|code)=)[^&\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
)
# Attributes every LogRecord has; anything else on a record came from `extra=`
# (uvicorn's `color_message` is its message again, with terminal colours).
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_HANDLER_MARK = "_parley_handler"
# The filter notes a record's extra fields here (a private attribute, so not one of them)
# for the formatter after it, instead of both scanning the record.
_EXTRA_MARK = "_parley_extra"
_PLAIN = frozenset({int, float, bool, type(None)})


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in the settings: tokens, signing secret, the database password."""
    values = [
        settings.bot_token,
        settings.signing_secret,
        settings.app_token,
        settings.calendar_token,
        settings.calendar_restricted_token,
    ]
    try:
        values.append(make_url(settings.database_url).password)
    except (ValueError, ArgumentError):
        pass
    return [v for v in values if v]


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, known))) if known else None
        # One search decides whether any substitution is needed: most log text has nothing
        # to redact, and a log line is written for every request.
        self._anything = re.compile(
            "|".join([*map(re.escape, known), *(p.pattern for p, _ in _PATTERNS)])
        )

    def text(self, value: str) -> str:
        if not self._anything.search(value):
            return value
        if self._secrets is not None:
            value = self._secrets.sub(REDACTED, value)
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if type(value) in _PLAIN:
            return value
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.text(str(value))


class RedactionFilter(logging.Filter):
    """Rewrites the record in place, so every formatter after it sees only redacted text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redactor.text(message), None
        extras = extra_fields(record)
        for key in extras:
            setattr(record, key, self.redactor.value(getattr(record, key)))
        setattr(record, _EXTRA_MARK, extras)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return True


def extra_fields(record: logging.LogRecord) -> list[str]:
    return [k for k in vars(record) if k not in _STANDARD and not k.startswith("_")]


def noted_extra_fields(record: logging.LogRecord) -> list[str]:
    """`extra_fields`, as the redaction filter found them if it saw this record."""
    noted = getattr(record, _EXTRA_MARK, None)
    return noted if isinstance(noted, list) else extra_fields(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, every extra field, exc."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in noted_extra_fields(record):
            document.setdefault(key, getattr(record, key))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exc"] = record.exc_text
        if record.stack_info:
            document["stack"] = record.stack_info
        return jsonlib.dumps(document, ensure_ascii=False, default=str)


class HumanFormatter(logging.Formatter):
    """`LEVEL logger: message key=value …`, for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__(HUMAN_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  (stdlib name)
        line = super().formatMessage(record)
        extras = " ".join(f"{k}={getattr(record, k)}" for k in extra_fields(record))
        return f"{line} {extras}" if extras else line


#: uvicorn's own loggers: its default config gives them handlers and stops propagation.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(
    *,
    json: bool,
    level: int = logging.INFO,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Installs one redacting handler on the root logger (replacing one installed before)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if json else HumanFormatter())
    handler.addFilter(RedactionFilter(Redactor(secrets)))
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    for name in SERVER_LOGGERS:  # through this handler too, whatever configured them before
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
        server_logger.setLevel(logging.NOTSET)
    for name in (*QUIET_LOGGERS, *LEVEL_CHECKED_LOGGERS):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    return handler
