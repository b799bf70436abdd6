"""Settings from the environment (or a `.env` file), checked once at start.

A wrong value raises `SettingError` naming the setting, so the process can stop with one
clear line before it listens.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from dotenv import dotenv_values
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.timeparse import DATE_ORDERS, TimeParseError, is_valid_zone, parse_offsets

DEFAULT_OFFSETS = "30d,14d,7d,3d,1d,12h,1h,0"
DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///parley.db"
MIN_CALENDAR_TOKEN = 16
MAX_DB_POOL = 500  # connections; PostgreSQL's own max_connections is 100 unless raised
# Slack user ids: U… (or W… on Enterprise Grid), upper-case letters and digits.
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")


class SettingError(ValueError):
    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


@dataclass(frozen=True)
class Settings:
    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = DEFAULT_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    admins: frozenset[str] = frozenset()
    timezone: str = "UTC"
    date_order: str | None = None  # DMY or MDY: how to read 09/10/2025 (None: refuse it)
    countdown_offsets: tuple[timedelta, ...] = field(
        default_factory=lambda: tuple(parse_offsets(DEFAULT_OFFSETS))
    )
    scheduler: bool = True
    answer_cache: bool = True  # off: every answer is made from the record (the benchmarks)
    calendar_token: str | None = None
    calendar_restricted_token: str | None = None
    intake: bool = True  # polls news sources (PARLEY_INTAKE=off for replicas that should not)
    intake_allow_private: bool = False  # sources on private addresses (tests only)
    db_pool: int | None = None  # connections kept open (None: storage.db's default per kind)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, *, env_file: str = ".env") -> Settings:
        """Reads `environ` (default: os.environ over the values of `env_file`)."""
        if environ is None:
            values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
            values.update(os.environ)
        else:
            values = dict(environ)

        def get(name: str) -> str | None:
            value = values.get(name, "").strip()
            return value or None

        zone = get("PARLEY_TIMEZONE") or "UTC"
        if not is_valid_zone(zone):
            raise SettingError(
                "PARLEY_TIMEZONE", f"unknown time zone {zone!r} (e.g. Europe/Stockholm)"
            )
        date_order = (get("PARLEY_DATE_ORDER") or "").upper() or None
        if date_order is not None and date_order not in DATE_ORDERS:
            raise SettingError(
                "PARLEY_DATE_ORDER",
                f"expected DMY (09/10/2025 is 9 October) or MDY (September 10), got {date_order!r}",
            )
        offsets_text = get("PARLEY_COUNTDOWN_OFFSETS") or DEFAULT_OFFSETS
        try:
            offsets = tuple(parse_offsets(offsets_text))
        except (TimeParseError, ValueError) as exc:
            # the reason already gives an example that works: not a second one
            raise SettingError("PARLEY_COUNTDOWN_OFFSETS", str(exc)) from None
        scheduler = (get("PARLEY_SCHEDULER") or "on").lower()
        if scheduler not in ("on", "off"):
            raise SettingError("PARLEY_SCHEDULER", f"expected on or off, got {scheduler!r}")
        answer_cache = (get("PARLEY_ANSWER_CACHE") or "on").lower()
        if answer_cache not in ("on", "off"):
            raise SettingError("PARLEY_ANSWER_CACHE", f"expected on or off, got {answer_cache!r}")
        intake = _switch(get, "PARLEY_INTAKE", default="on")
        allow_private = _switch(get, "PARLEY_INTAKE_ALLOW_PRIVATE", default="off")
        database_url = get("PARLEY_DATABASE_URL") or DEFAULT_DATABASE_URL
        try:
            make_url(database_url)
        except ArgumentError:
            raise SettingError(
                "PARLEY_DATABASE_URL", "expected sqlite:///FILE or postgresql://USER@HOST/DB"
            ) from None
        if not database_url.startswith(("sqlite", "postgresql", "postgres")):
            raise SettingError(
                "PARLEY_DATABASE_URL", "expected sqlite:///FILE or postgresql://USER@HOST/DB"
            )
        db_pool = get("PARLEY_DB_POOL")
        if db_pool is not None and not (db_pool.isdigit() and 1 <= int(db_pool) <= MAX_DB_POOL):
            raise SettingError(
                "PARLEY_DB_POOL",
                f"expected a number of connections from 1 to {MAX_DB_POOL}, got {db_pool!r}",
            )
        api_url = get("SLACK_API_URL") or DEFAULT_API_URL
        if not api_url.startswith(("http://", "https://")):
            raise SettingError("SLACK_API_URL", f"expected an http(s) URL, got {api_url!r}")
        admins = frozenset(a.strip() for a in (get("PARLEY_ADMINS") or "").split(",") if a.strip())
        for admin in sorted(admins):
            if not _USER_ID.fullmatch(admin):
                raise SettingError(
                    "PARLEY_ADMINS",
                    f"{admin[:40]!r} is not a Slack user id (expected e.g. U024BE7LH,W0123ABC)",
                )
        bot_token = _token(get, "SLACK_BOT_TOKEN", "xoxb-", "a bot token")
        app_token = _token(get, "SLACK_APP_TOKEN", "xapp-", "an app-level token")
        calendar_token = _calendar_token(get, "PARLEY_CALENDAR_TOKEN")
        restricted_token = _calendar_token(get, "PARLEY_CALENDAR_RESTRICTED_TOKEN")
        if restricted_token and not calendar_token:
            raise SettingError(
                "PARLEY_CALENDAR_RESTRICTED_TOKEN", "needs PARLEY_CALENDAR_TOKEN set as well"
            )
        if restricted_token and restricted_token == calendar_token:
            raise SettingError(
                "PARLEY_CALENDAR_RESTRICTED_TOKEN", "must differ from PARLEY_CALENDAR_TOKEN"
            )
        return cls(
            bot_token=bot_token,
            signing_secret=get("SLACK_SIGNING_SECRET"),
            app_token=app_token,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            database_url=database_url,
            admins=admins,
            timezone=zone,
            date_order=date_order,
            countdown_offsets=offsets,
            scheduler=scheduler == "on",
            answer_cache=answer_cache == "on",
            calendar_token=calendar_token,
            calendar_restricted_token=restricted_token,
            intake=intake,
            intake_allow_private=allow_private,
            db_pool=int(db_pool) if db_pool else None,
        )


def _switch(get: Callable[[str], str | None], name: str, *, default: str) -> bool:
    value = (get(name) or default).lower()
    if value not in ("on", "off"):
        raise SettingError(name, f"expected on or off, got {value[:20]!r}")
    return value == "on"


# The checks below never quote a value: it is a secret, and the line goes to a log.


def _token(get: Callable[[str], str | None], name: str, prefix: str, what: str) -> str | None:
    value = get(name)
    if value is not None and not value.startswith(prefix):
        raise SettingError(name, f"expected {what} starting with {prefix}")
    return value


def _calendar_token(get: Callable[[str], str | None], name: str) -> str | None:
    value = get(name)
    if value is None:
        return None
    if len(value) < MIN_CALENDAR_TOKEN:
        raise SettingError(
            name,
            f"too short: use at least {MIN_CALENDAR_TOKEN} random characters "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')",
        )
    if not _URL_SAFE.fullmatch(value):
        raise SettingError(name, "use only letters, digits and - _ . ~ (it goes in a URL)")
    return value
