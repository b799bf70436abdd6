"""Settings from the environment (or a `.env` file), checked once at start.

A wrong value raises `SettingError` naming the setting, so the process can stop with one
clear line before it listens.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from dotenv import dotenv_values

from bot.timeparse import TimeParseError, is_valid_zone, parse_offsets

DEFAULT_OFFSETS = "30d,14d,7d,3d,1d,12h,1h,0"
DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///parley.db"


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
    countdown_offsets: tuple[timedelta, ...] = field(
        default_factory=lambda: tuple(parse_offsets(DEFAULT_OFFSETS))
    )
    scheduler: bool = True
    calendar_token: str | None = None

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
        offsets_text = get("PARLEY_COUNTDOWN_OFFSETS") or DEFAULT_OFFSETS
        try:
            offsets = tuple(parse_offsets(offsets_text))
        except (TimeParseError, ValueError) as exc:
            raise SettingError(
                "PARLEY_COUNTDOWN_OFFSETS", f"{exc} (expected e.g. {DEFAULT_OFFSETS})"
            ) from None
        scheduler = (get("PARLEY_SCHEDULER") or "on").lower()
        if scheduler not in ("on", "off"):
            raise SettingError("PARLEY_SCHEDULER", f"expected on or off, got {scheduler!r}")
        database_url = get("PARLEY_DATABASE_URL") or DEFAULT_DATABASE_URL
        if not database_url.startswith(("sqlite", "postgresql", "postgres")):
            raise SettingError(
                "PARLEY_DATABASE_URL", "expected sqlite:///FILE or postgresql://USER@HOST/DB"
            )
        api_url = get("SLACK_API_URL") or DEFAULT_API_URL
        if not api_url.startswith(("http://", "https://")):
            raise SettingError("SLACK_API_URL", f"expected an http(s) URL, got {api_url!r}")
        admins = frozenset(a.strip() for a in (get("PARLEY_ADMINS") or "").split(",") if a.strip())
        return cls(
            bot_token=get("SLACK_BOT_TOKEN"),
            signing_secret=get("SLACK_SIGNING_SECRET"),
            app_token=get("SLACK_APP_TOKEN"),
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            database_url=database_url,
            admins=admins,
            timezone=zone,
            countdown_offsets=offsets,
            scheduler=scheduler == "on",
            calendar_token=get("PARLEY_CALENDAR_TOKEN"),
        )
