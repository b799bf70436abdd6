"""The `parley` command: shell, seed, db upgrade, export, import, serve, run, digest."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bot import __version__
from bot.clock import Clock, ShiftedClock, SystemClock
from bot.settings import SettingError, Settings
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
    try:
        db = Database(settings.database_url)
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
) -> None:
    """A local console that behaves like Slack: no Slack account or network needed."""
    settings = load_settings(database_url)
    start = parse_as_of(as_of)
    clock: Clock = ShiftedClock(start) if start else SystemClock()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(_shell(settings, clock, seed=not no_seed))


async def _shell(settings: Settings, clock: Clock, *, seed: bool) -> None:
    from bot.shell import Shell
    from storage import tracks
    from storage.seed import default_seed_files, load_seed_files

    db = await open_database(settings)
    try:
        if seed:
            async with db.session() as session:
                if not await tracks.all_tracks(session):
                    report = await load_seed_files(session, default_seed_files(), now=clock.now())
                    typer.echo(f"Seeded the founding case: {report}.")
        console = Shell(settings=settings, db=db, clock=clock)
        await console.start()
        try:
            await console.run()
        finally:
            await console.stop()
    finally:
        await db.dispose()


@app.command()
def seed(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Seed files (YAML); default: the bundled founding case."),
    ] = None,
) -> None:
    """Load seed data; loading twice is the same as loading once."""
    settings = load_settings()

    async def go() -> None:
        from storage.errors import InvalidInput
        from storage.seed import default_seed_files, load_seed_files

        db = await open_database(settings)
        try:
            async with db.session() as session:
                report = await load_seed_files(
                    session, list(files or default_seed_files()), now=SystemClock().now()
                )
        except (InvalidInput, OSError, KeyError) as exc:
            typer.echo(f"parley seed: {exc}", err=True)
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
) -> None:
    """HTTP mode: Slack requests at POST /slack/events, health at GET /healthz."""
    settings = load_settings()
    for name, value in (
        ("SLACK_SIGNING_SECRET", settings.signing_secret),
        ("SLACK_BOT_TOKEN", settings.bot_token),
    ):
        if not value:
            typer.echo(f"parley: setting {name}: required by `parley serve`", err=True)
            raise typer.Exit(2)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_serve(settings, host, port))


async def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from bot.app import build_app, build_client
    from bot.web import build_web

    db = await open_database(settings)
    try:
        app = build_app(
            settings=settings, client=build_client(settings), db=db, clock=SystemClock()
        )
        web = build_web(app, db)
        config = uvicorn.Config(web, host=host, port=port, lifespan="off", log_level="warning")
        await uvicorn.Server(config).serve()
    finally:
        await db.dispose()


@app.command()
def run() -> None:
    """Pick the mode from the settings: socket, serve, else the local shell."""
    settings = load_settings()
    if settings.app_token:
        typer.echo(
            "parley: Socket Mode is not built yet (issue: Slack over the wire); "
            "unset SLACK_APP_TOKEN or use `parley serve`.",
            err=True,
        )
        raise typer.Exit(2)
    if settings.signing_secret:
        serve(host="0.0.0.0", port=3000)
        return
    shell(as_of=None, database_url=None, no_seed=False)


def main() -> None:
    app()
