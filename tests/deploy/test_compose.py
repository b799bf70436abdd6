"""deploy/compose.yaml: Parley and PostgreSQL 15 with a named volume and a health-gated start."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.deploy.files import DEPLOY, ROOT


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_parley_starts_after_a_healthy_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"parley", "db"}
    parley, db = services["parley"], services["db"]
    assert parley["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert db["image"] == "postgres:15"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_the_record_is_in_a_named_volume(compose: dict[str, Any]) -> None:
    (volume,) = compose["volumes"]
    mounts = compose["services"]["db"]["volumes"]
    assert f"{volume}:/var/lib/postgresql/data" in mounts


def test_parley_reads_env_file_and_points_at_the_db_service(compose: dict[str, Any]) -> None:
    parley = compose["services"]["parley"]
    assert parley["env_file"] == ".env"
    url = parley["environment"]["PARLEY_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://parley:")
    assert url.endswith("@db:5432/parley")
    password = compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")  # from .env, never written here
    assert password in url


def test_builds_the_projects_dockerfile(compose: dict[str, Any]) -> None:
    build = compose["services"]["parley"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT
    assert (context / build["dockerfile"]).is_file()
