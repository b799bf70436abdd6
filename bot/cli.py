"""The `parley` command: shell, seed, db upgrade, export, import, serve, socket, run, digest."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot import __version__
from bot.clock import Clock, ShiftedClock, SystemClock

# Starting, a command creates a few hundred thousand objects that live as long as it does
# (modules, classes, SQLAlchemy's and pydantic's tables). With the default thresholds the
# collector walks them again and again: about a tenth of a piped shell's start-up. Fewer
# passes while starting; `started()` freezes what was built and restores the defaults.
_THRESHOLDS = gc.get_threshold()
gc.set_threshold(100_000, 50, 1000)
#: A server's, once started. Each answer at scale makes and drops some 20,000 tracked objects
#: (ORM rows, Block Kit models): at the default 700 the young generation was collected
#: twice per answer, 6 % of its CPU. At 10,000, a pass every few answers, a few MB of
#: garbage at most waiting for it (measured: /watch at scale 12.3 -> 10.7 ms of CPU).
SERVING_THRESHOLDS = (10_000, 10, 10)


def started(*, collect: bool = True, serving: bool = False) -> None:
    """What was built at start-up lives for good: out of the collector's sight from now.

    A server collects first (its start-up garbage is not kept) and then collects less often
    (`SERVING_THRESHOLDS`); the shell, whose start-up a person waits for, does not collect:
    a full pass would cost it 0.1 s; it keeps some 70 kB of garbage (200 objects) instead,
    and the interpreter's defaults."""
    if collect:
        gc.collect()
    gc.freeze()
    gc.set_threshold(*(SERVING_THRESHOLDS if serving else _THRESHOLDS))


if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp
    from sqlmodel.ext.asyncio.session import AsyncSession
    from starlette.routing import BaseRoute

    from bot.metrics import Metrics
    from bot.scheduler import Scheduler
    from bot.settings import Settings
    from storage.db import Database

app = typer.Typer(
    help="Parley: the negotiation desk's record in Slack.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database migrations.")
app.add_typer(db_app, name="db")


def load_settings(database_url: str | None = None) -> Settings:
    """Settings, or one line naming the wrong setting and exit code 2."""
    from bot.settings import SettingError, Settings  # here: `--version` needs no SQLAlchemy

    try:
        settings = Settings.load()
    except SettingError as exc:
        typer.echo(f"parley: setting {exc}", err=True)
        raise typer.Exit(2) from None
    if database_url:
        from dataclasses import replace

        settings = replace(settings, database_url=database_url)
    return settings


def parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        typer.echo(
            f"parley: --as-of {value!r} is not an ISO 8601 time (e.g. 2025-07-29T09:00Z)", err=True
        )
        raise typer.Exit(2) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


async def open_database(settings: Settings) -> Database:
    """The database, migrated; one clear line and exit 2 when it cannot be reached."""
    from storage.db import Database  # here, not at the top: `parley --version` stays quick

    try:
        db = Database(settings.database_url, pool=settings.db_pool)
        await asyncio.wait_for(db.upgrade(), timeout=8)
    except Exception as exc:  # noqa: BLE001  (any driver error means the same to the operator)
        typer.echo(
            f"parley: setting PARLEY_DATABASE_URL: cannot open the database "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})",
            err=True,
        )
        raise typer.Exit(2) from None
    return db


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"parley {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


REPLAY_GRACE = timedelta(minutes=1)  # a re-run at the same --as-of starts just behind its
# own first run: that is a continuation, not a replay into the past


def sqlite_path(database_url: str) -> Path | None:
    """The SQLite file the URL names; None for PostgreSQL or an in-memory database."""
    from storage.db import sqlite_file

    found = sqlite_file(database_url) if database_url.startswith("sqlite") else None
    return Path(found) if found else None


def record_name(database_url: str) -> str:
    path = sqlite_path(database_url)
    return str(path) if path else "the record at PARLEY_DATABASE_URL"


def replay_database(database_url: str) -> Path:
    """`--fresh`'s file: NAME-replay.db beside a SQLite file, else parley-replay.db in the
    current folder (the shell's record is SQLite either way)."""
    path = sqlite_path(database_url)
    if path is None:
        return Path.cwd() / "parley-replay.db"
    return path.with_name(f"{path.stem}-replay{path.suffix or '.db'}")


def start_fresh(settings: Settings) -> Settings:
    """Settings on a new, empty replay file, an older one removed; the record the settings
    named is not touched."""
    from dataclasses import replace

    replay = replay_database(settings.database_url)
    try:
        for path in (replay, *(replay.with_name(replay.name + s) for s in ("-wal", "-shm"))):
            path.unlink(missing_ok=True)
    except OSError as exc:
        typer.echo(f"parley shell: --fresh cannot remove {replay}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"Replaying in a fresh database, {replay}; "
        f"{record_name(settings.database_url)} is left as it is."
    )
    return replace(settings, database_url=f"sqlite:///{replay}")


def record_ahead_warning(
    *, written: datetime, start: datetime, as_of: str | None, database_url: str
) -> str:
    """One paragraph: the record was written after the instant the shell's clock starts at."""
    import textwrap

    from bot.timeleft import format_local

    started = format_local(start, "UTC")
    clock = f"--as-of {started}" if as_of else f"now, {started}"
    again = f"parley shell --as-of {as_of} --fresh" if as_of else "parley shell --fresh"
    text = (
        f"parley shell: {record_name(database_url)} was last written "
        f"{format_local(written, 'UTC')}, after {clock}. A replay on it shows what was "
        "entered later as if it were known then, and posts none of the countdowns and "
        "digests that fall due in between: they come before its channel subscribed, or "
        f"were posted already. To replay as the desk saw it, start with `{again}`: a new "
        f"database seeded as of that instant, {replay_database(database_url)} (this record "
        "is left as it is)."
    )
    return textwrap.fill(text, width=88, break_on_hyphens=False, break_long_words=False)


@app.command()
def shell(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Run the clock from this instant, e.g. 2025-07-29T09:00Z."),
    ] = None,
    database_url: Annotated[str | None, typer.Option(help="Overrides PARLEY_DATABASE_URL.")] = None,
    no_seed: Annotated[
        bool, typer.Option("--no-seed", help="Do not seed an empty record.")
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Replay on a new, freshly seeded database: NAME-replay.db beside the SQLite "
            "file (else parley-replay.db here), replacing an older replay file; the record "
            "itself is not touched.",
        ),
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Exit with status 1 when any command was unknown or refused, or input "
            "ended in the middle of a form (for scripts); without it the status is 0.",
        ),
    ] = False,
) -> None:
    """A local console that behaves like Slack: no Slack account or network needed.

    You are @you, an admin; @lena is a lead, @alice and @bob are members (`:as @bob` acts as
    Bob). Piped, each typed line is echoed before its answer; --strict makes the exit
    status 1 when any line was unknown or refused.

    With --as-of on a record written after that instant (a plain run seeds at the wall
    clock), the shell says so at start: the replay would post nothing that fell due in
    between. Add --fresh to replay on a new database seeded as of that instant.
    """
    settings = load_settings(database_url)
    start = parse_as_of(as_of)
    if fresh:
        settings = start_fresh(settings)
    # Shifted even without --as-of, so that `:wait` can move it on.
    clock: Clock = ShiftedClock(start or SystemClock().now())
    from bot.logs import configure_logging, secrets_of

    configure_logging(json=False, level=logging.WARNING, secrets=secrets_of(settings))
    try:
        failures = asyncio.run(_shell(settings, clock, seed=not no_seed, as_of=as_of))
    except BrokenPipeError:  # a start-up line met a closed output (`| head -1`): quietly
        _output_closed()
        failures = 0
    if strict and failures:
        raise typer.Exit(1)


def _output_closed() -> None:
    """Nobody reads stdout any more: point it at /dev/null, so that Python's own flush at
    exit does not fail on it too (the standard library's advice for SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


async def _shell(settings: Settings, clock: Clock, *, seed: bool, as_of: str | None) -> int:
    """Runs the console; returns how many lines were unknown or refused."""
    from bot.local_desk import CHANNEL_ID, CHANNEL_NAME, LEADS
    from bot.shell import Shell
    from storage import roles, subscriptions, tracks
    from storage.access import SEED
    from storage.replay import last_written_at

    db = await open_database(settings)
    try:
        start = clock.now()
        async with db.session() as session:
            written = await last_written_at(session)
        if written is not None and written > start + REPLAY_GRACE:
            typer.echo(
                record_ahead_warning(
                    written=written, start=start, as_of=as_of, database_url=settings.database_url
                ),
                err=True,
            )
        if seed:
            async with db.transaction() as session:
                if not await tracks.all_tracks(session):
                    from storage.seed import default_seed_files, load_seed_files  # YAML

                    report = await load_seed_files(session, default_seed_files(), now=clock.now())
                    await subscriptions.subscribe(
                        session,
                        actor=SEED,
                        now=clock.now(),
                        channel_id=CHANNEL_ID,
                        default_zone=settings.timezone,
                    )
                    for lead in LEADS:  # the console's people (bot.local_desk)
                        await roles.grant_lead(
                            session, actor=SEED, now=clock.now(), user_id=lead.id
                        )
                    typer.echo(
                        f"Seeded the founding case: {report}; #{CHANNEL_NAME} gets countdowns and "
                        "the daily digest; "
                        + ", ".join(f"@{lead.name}" for lead in LEADS)
                        + " is a lead."
                    )
        console = Shell(settings=settings, db=db, clock=clock)
        await console.start()
        started(collect=False)
        try:
            await console.run()
        finally:
            await console.stop()
    finally:
        await db.dispose()
    return console.failures


@app.command()
def seed(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Seed files (YAML); default: the bundled founding case."),
    ] = None,
) -> None:
    """Load seed data; loading twice is the same as loading once.

    The files are checked whole first and loaded in one transaction: a file that is not a
    seed is refused with one line naming the file, the line and column, the item and the
    problem, and nothing is written.
    """
    from storage.seed import SeedError, default_seed_files, read_seed

    settings = load_settings()
    try:
        seeds = [read_seed(path) for path in files or default_seed_files()]
    except SeedError as exc:
        typer.echo(f"parley seed: refused, nothing changed: {exc}", err=True)
        raise typer.Exit(1) from None

    async def go() -> None:
        from sqlalchemy.exc import SQLAlchemyError

        from storage.seed import load_seeds

        db = await open_database(settings)
        try:
            async with db.transaction() as session:
                report = await load_seeds(session, seeds, now=SystemClock().now())
        except SeedError as exc:
            typer.echo(f"parley seed: refused, nothing changed: {exc}", err=True)
            raise typer.Exit(1) from None
        except SQLAlchemyError as exc:
            reason = (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0][:200]
            typer.echo(
                f"parley seed: the database refused the load, nothing changed "
                f"({type(exc).__name__}: {reason})",
                err=True,
            )
            raise typer.Exit(1) from None
        finally:
            await db.dispose()
        typer.echo(f"Seed loaded: {report}.")

    asyncio.run(go())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (also done at every start)."""
    settings = load_settings()

    async def go() -> None:
        db = await open_database(settings)
        await db.dispose()
        typer.echo("Database is up to date.")

    asyncio.run(go())


@app.command("export")
def export_command() -> None:
    """Write the whole record (audit trail and deliveries included) as JSON to stdout."""
    settings = load_settings()

    async def go() -> None:
        from storage.backup import export_record

        db = await open_database(settings)
        try:
            async with db.session() as session:
                document = await export_record(session, now=SystemClock().now())
        finally:
            await db.dispose()
        json.dump(document, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")

    asyncio.run(go())


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A file written by `parley export`.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace a non-empty record.")] = False,
) -> None:
    """Restore a record from `parley export` output, in one transaction."""
    settings = load_settings()

    async def go() -> None:
        from storage.access import CLI
        from storage.backup import import_record
        from storage.errors import InvalidInput

        try:
            raw = file.read_text(encoding="utf-8")
        except OSError as exc:
            typer.echo(f"parley import: cannot read {file}: {exc.strerror}", err=True)
            raise typer.Exit(1) from None
        db = await open_database(settings)
        try:
            async with db.session() as session:
                counts = await import_record(
                    session, actor=CLI, now=SystemClock().now(), raw=raw, replace=replace
                )
        except InvalidInput as exc:
            typer.echo(f"parley import: refused, nothing changed: {exc}", err=True)
            raise typer.Exit(1) from None
        finally:
            await db.dispose()
        typer.echo(f"Imported {sum(counts.values())} rows from {file}.")

    asyncio.run(go())


def require_settings(settings: Settings, command: str, *names: str) -> None:
    """One line naming the first missing setting, and exit code 2."""
    values = {
        "SLACK_APP_TOKEN": settings.app_token,
        "SLACK_BOT_TOKEN": settings.bot_token,
        "SLACK_SIGNING_SECRET": settings.signing_secret,
    }
    for name in names:
        if not values[name]:
            typer.echo(f"parley: setting {name}: required by `parley {command}`", err=True)
            raise typer.Exit(2)


def configure_server_logging(settings: Settings) -> None:
    from bot.logs import configure_logging, secrets_of

    configure_logging(json=True, secrets=secrets_of(settings))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
) -> None:
    """HTTP mode: Slack requests at POST /slack/events; GET /healthz and GET /metrics."""
    settings = load_settings()
    require_settings(settings, "serve", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")
    configure_server_logging(settings)
    asyncio.run(_serve(settings, host, port))


@dataclass
class BotProcess:
    """What `serve` and `socket` run: one database, one app, its metrics."""

    settings: Settings
    db: Database
    app: AsyncApp
    metrics: Metrics
    clock: Clock
    scheduler: Scheduler | None

    def start_scheduler(self) -> None:
        """Started once the mode's own checks have passed (Socket Mode: the app token)."""
        if self.scheduler is not None:
            self.scheduler.start()

    async def health(self) -> dict[str, Any]:
        """`/healthz`'s scheduler part: its state, the outbox and the news sources (also
        fed to /metrics)."""
        from storage import outbox, sources

        async with self.db.session() as session:
            counts = await outbox.status_counts(session)
            feeds = await sources.health_counts(session)
        self.metrics.set_deliveries(pending=counts["pending"], failed=counts["failed"])
        self.metrics.set_sources(feeds)
        state = self.scheduler.state if self.scheduler else "off"
        return {
            "scheduler": state,
            "deliveries": {"pending": counts["pending"], "failed": counts["failed"]},
            "sources": feeds,
            "intake": "on" if self.settings.intake and self.scheduler else "off",
        }


@asynccontextmanager
async def bot_process(settings: Settings) -> AsyncIterator[BotProcess]:
    """Opens the database and builds the app for `serve` and `socket`; closes them after.

    Work that runs beside the app in both modes (the scheduler) starts and stops here.
    """
    from bot.app import build_app, build_client, kept_alive
    from bot.metrics import Metrics

    db = await open_database(settings)
    try:
        clock = SystemClock()
        async with kept_alive(build_client(settings)) as client:
            # Every HTTP request's signature is checked before it reaches Bolt (bot.web, 401
            # if wrong), and Socket Mode's carry none: Bolt's own check would be a second.
            app = build_app(
                settings=settings, client=client, db=db, clock=clock, verify_requests=False
            )
            metrics = Metrics()
            metrics.instrument(app.client)
            # What is built by now lives as long as the process: frozen out of the
            # collector's sight, it no longer makes each full collection a pause of tens of
            # milliseconds for every request in flight (the p99 of SPEC §8).
            started(serving=True)
            scheduler = None
            if settings.scheduler:
                from bot.scheduler import Scheduler, delivery_client

                scheduler = Scheduler(
                    db=db, client=delivery_client(settings), clock=clock, settings=settings
                )
                metrics.instrument(scheduler.client)
            bot = BotProcess(
                settings=settings,
                db=db,
                app=app,
                metrics=metrics,
                clock=clock,
                scheduler=scheduler,
            )
            try:
                yield bot
            finally:
                if scheduler is not None:
                    await scheduler.stop()
    finally:
        await db.dispose()


def ops_extra_routes(bot: BotProcess) -> list[BaseRoute]:
    """Routes served beside /healthz and /metrics in both modes."""
    from bot.calendar import calendar_route

    return [calendar_route(db=bot.db, settings=bot.settings, clock=bot.clock)]


async def _serve(settings: Settings, host: str, port: int) -> None:
    from bot.web import build_web, serve_http

    async with bot_process(settings) as bot:
        bot.start_scheduler()
        web = build_web(
            bot.app,
            bot.db,
            metrics=bot.metrics,
            health_extra=bot.health,
            extra_routes=ops_extra_routes(bot),
        )
        await serve_http(web, host=host, port=port)


@app.command()
def socket(
    host: Annotated[str, typer.Option(help="Address of /healthz and /metrics.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port of /healthz and /metrics.")] = 3000,
) -> None:
    """Socket Mode (SLACK_APP_TOKEN; no public URL needed); GET /healthz and GET /metrics."""
    settings = load_settings()
    require_settings(settings, "socket", "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN")
    configure_server_logging(settings)
    asyncio.run(_socket(settings, host, port))


async def _socket(settings: Settings, host: str, port: int) -> None:
    import aiohttp
    from slack_sdk.errors import SlackApiError

    from bot.socket_mode import SocketModeHandler
    from bot.web import build_ops_web, serve_http

    assert settings.app_token
    async with bot_process(settings) as bot:
        handler = SocketModeHandler(bot.app, app_token=settings.app_token, metrics=bot.metrics)
        try:
            try:
                await handler.open()
            except SlackApiError as exc:
                typer.echo(
                    f"parley: setting SLACK_APP_TOKEN: Slack refused it "
                    f"({exc.response.get('error')}); it needs the connections:write scope",
                    err=True,
                )
                raise typer.Exit(2) from None
            except aiohttp.ClientError as exc:
                typer.echo(
                    f"parley: setting SLACK_API_URL: cannot reach {settings.api_url} "
                    f"({type(exc).__name__})",
                    err=True,
                )
                raise typer.Exit(2) from None
            bot.start_scheduler()
            web = build_ops_web(
                bot.db, bot.metrics, health_extra=bot.health, extra_routes=ops_extra_routes(bot)
            )
            await serve_http(web, host=host, port=port)
        finally:
            await handler.close()


@app.command()
def run(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
) -> None:
    """Picks the mode: `socket` if SLACK_APP_TOKEN is set, else `serve` if
    SLACK_SIGNING_SECRET is set, else the local `shell`."""
    settings = load_settings()
    if settings.app_token:
        socket(host=host, port=port)
    elif settings.signing_secret:
        serve(host=host, port=port)
    else:
        shell(as_of=None, database_url=None, no_seed=False, fresh=False, strict=False)


def channel_id_of(given: str) -> str:
    """The channel id `--channel` names: an id (`C0123…`, `#C0123…`) or `#desk`, the name
    the local shell shows for its channel."""
    from bot.local_desk import CHANNEL_ID, CHANNEL_NAME

    name = given.strip().removeprefix("#")
    return CHANNEL_ID if name.lower() == CHANNEL_NAME else name


def channel_label(channel_id: str) -> str:
    from bot.local_desk import CHANNEL_ID, CHANNEL_NAME

    return f"#{CHANNEL_NAME} ({channel_id})" if channel_id == CHANNEL_ID else channel_id


async def subscribed_channel(db: Database, given: str) -> str:
    """The id of the subscribed channel `given` names, or one line why not and exit 1."""
    from storage.models import Subscription
    from storage.subscriptions import active_subscriptions

    channel = channel_id_of(given)
    async with db.session() as session:
        subscription = await session.get(Subscription, channel)
        subscribed = [s.channel_id for s in await active_subscriptions(session)]
    if subscription is not None and subscription.active:
        return channel
    problem = (
        f"{given} is no longer subscribed"
        if subscription is not None
        else f"{given} is not a subscribed channel"
    )
    if given.startswith("#") and not channel.isupper():  # Slack's names are lower case
        problem += " (a channel name other than #desk is not known here: give its id, C…)"
    known = ", ".join(channel_label(c) for c in subscribed) or "none; /desk subscribe adds one"
    typer.echo(f"parley digest: {problem}; nothing posted (subscribed: {known})", err=True)
    raise typer.Exit(1)


@app.command()
def digest(
    channel: Annotated[
        str,
        typer.Option(
            "--channel",
            help="A subscribed channel: its id (e.g. C0123456789), or #desk for the shell's.",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the digest; post nothing.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Render (and post) it as of this instant, e.g. 2025-08-01T08:00Z."
        ),
    ] = None,
) -> None:
    """Render one subscribed channel's digest now (or as of --as-of) and post it, or only
    print it with --dry-run. A channel that is not subscribed is refused."""
    settings = load_settings()
    start = parse_as_of(as_of)
    if not dry_run and not settings.bot_token:
        typer.echo("parley: setting SLACK_BOT_TOKEN: required to post (or use --dry-run)", err=True)
        raise typer.Exit(2)

    async def go() -> int:
        from bot.render.digest import channel_digest
        from bot.scheduler import LEASE, Scheduler, delivery_client
        from bot.slack_text import message_text
        from storage.models import DeliveryKind
        from storage.outbox import PlannedDelivery

        clock: Clock = ShiftedClock(start) if start else SystemClock()
        db = await open_database(settings)
        try:
            channel_id = await subscribed_channel(db, channel)
            if dry_run:
                async with db.session() as session:
                    reply = await channel_digest(
                        session,
                        now=clock.now(),
                        channel_id=channel_id,
                        default_zone=settings.timezone,
                    )
                typer.echo(message_text(reply))
                return 0
            # A claim made at a past --as-of would look expired at once to a scheduler on
            # the wall clock: its lease runs from the wall clock too.
            behind = max(SystemClock().now() - clock.now(), timedelta(0))
            scheduler = Scheduler(
                db=db,
                client=delivery_client(settings),
                clock=clock,
                settings=settings,
                lease=LEASE + behind,
            )
            now = clock.now()
            outcome = await scheduler.deliver_now(
                PlannedDelivery(
                    key=f"digest:{channel_id}:manual:{now:%Y%m%dT%H%M%S%fZ}",
                    kind=DeliveryKind.digest,
                    channel_id=channel_id,
                    due_at=now,
                    payload={"manual": True},
                )
            )
        finally:
            await db.dispose()
        if outcome != "sent":
            typer.echo(
                f"parley digest: not posted to {channel_id}: {outcome} (see `parley outbox`)"
            )
            return 1
        typer.echo(f"Posted the digest to {channel_id}.")
        return 0

    raise typer.Exit(asyncio.run(go()))


OUTBOX_LIMIT = 20


@app.command()
def outbox(
    upcoming: Annotated[
        bool,
        typer.Option(
            "--upcoming",
            help="List the next posts instead: countdowns and digests as the scheduler will "
            "make them, soonest first, with those still in the outbox.",
        ),
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="How many posts to list.")
    ] = OUTBOX_LIMIT,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="With --upcoming: what is next as of this instant."),
    ] = None,
) -> None:
    """List the scheduled posts not yet sent (pending, in progress and failed), or with
    --upcoming the next posts planned, with their times, kind, channel and key."""
    settings = load_settings()
    start = parse_as_of(as_of)
    if start is not None and not upcoming:
        typer.echo("parley outbox: --as-of goes with --upcoming", err=True)
        raise typer.Exit(2)

    async def go() -> None:
        from storage import outbox as deliveries

        db = await open_database(settings)
        try:
            async with db.session() as session:
                if upcoming:
                    await _show_upcoming(
                        session, now=start or SystemClock().now(), limit=limit, settings=settings
                    )
                    return
                rows = await deliveries.unsent(session, limit=limit)
                counts = await deliveries.status_counts(session)
        finally:
            await db.dispose()
        typer.echo(
            "Outbox: "
            + ", ".join(f"{counts[s]} {s}" for s in ("pending", "claimed", "failed", "sent"))
            + "."
        )
        unsent = counts["pending"] + counts["claimed"] + counts["failed"]
        if unsent > len(rows):
            typer.echo(f"(the oldest {len(rows)} of {unsent} are listed; --limit N for more)")
        for row in rows:
            error = f"  {row.last_error}" if row.last_error else ""
            retry = f" retry {row.retry_at:%Y-%m-%d %H:%M}Z" if row.retry_at else ""
            typer.echo(
                f"{row.due_at:%Y-%m-%d %H:%M}Z  {row.status:<8} x{row.attempts}{retry}  "
                f"{row.kind:<9} {row.channel_id:<12} {row.key}{error}"
            )

    asyncio.run(go())


async def _show_upcoming(
    session: AsyncSession, *, now: datetime, limit: int, settings: Settings
) -> None:
    """`parley outbox --upcoming`: the outbox's posts still to go (a failed one at its
    retry), then what planning will add, merged by time."""
    from bot.timeleft import format_local
    from storage import outbox as deliveries
    from storage import planning
    from storage.models import DeliveryStatus

    lines: list[tuple[datetime, str, str, str, str]] = []
    for row in await deliveries.unsent(session, limit=limit + 1):
        if row.status == DeliveryStatus.failed and row.retry_at is None:
            continue  # not retried: `parley outbox` shows it with its error
        at = row.retry_at if row.status == DeliveryStatus.failed and row.retry_at else row.due_at
        state = {"pending": "pending", "claimed": "posting", "failed": "retry"}[row.status]
        lines.append((at, state, row.kind, row.channel_id, row.key))
    for item in await planning.upcoming(
        session, now=now, default_offsets=settings.countdown_offsets, limit=limit + 1
    ):
        state = "due" if item.due_at <= now else "planned"
        lines.append((item.due_at, state, item.kind, item.channel_id, item.key))
    lines.sort(key=lambda line: (line[0], line[4]))
    if not lines:
        typer.echo(
            f"Nothing is planned after {format_local(now, 'UTC')}: no subscribed channel has "
            "a countdown or a digest to come."
        )
        return
    shown = lines[:limit]
    typer.echo(f"Next {len(shown)} posts after {format_local(now, 'UTC')}:")
    for at, state, kind, channel, key in shown:
        typer.echo(f"{at:%Y-%m-%d %H:%M}Z  {state:<8} {kind:<9} {channel:<12} {key}")
    if len(lines) > limit:
        typer.echo(f"(the next {limit} are listed; --limit N for more)")


def main() -> None:
    app()
