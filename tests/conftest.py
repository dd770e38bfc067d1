"""Shared test fixtures. No test reaches the network; HF hub access is off for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "guideline_corpus"


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """A DRAFTER_HOME of the test's own, and no DRAFTER_* variables from the caller's shell."""
    for k in list(os.environ):
        if k.startswith("DRAFTER_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("DRAFTER_HOME", str(tmp_path / "home"))
    return tmp_path


VALID_FRONT = """---
id: {id}
guideline: MTUS Chronic Pain Medical Treatment Guidelines
edition: "2009"
regulation: "9792.24.2"
effective_from: 2009-07-18
effective_to: 2017-11-30
topic: {topic}
category: rehabilitation
pages: [98, 99]
applies_to: [{terms}]
recommendation: conditional
---
# {topic} [pp. 98-99]

{body}
"""


def write_topic(
    folder: Path, id: str, topic: str = "Test topic", terms: str = "test term", body: str | None = None,
    replace: dict[str, str] | None = None,
) -> Path:
    """Write a valid topic file, then apply `replace` (old -> new text) to make it invalid on purpose."""
    body = body or ("This passage states a test guideline fact in enough words to be a valid topic body. " * 4)
    text = VALID_FRONT.format(id=id, topic=topic, terms=terms, body=body)
    for old, new in (replace or {}).items():
        assert old in text, f"test helper: {old!r} not in the template"
        text = text.replace(old, new)
    path = folder / f"{id}.md"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL for the session (DRAFTER_TEST_PG_URL, or a throwaway cluster this fixture starts)."""
    if os.environ.get("DRAFTER_TEST_PG_URL"):
        yield None
        return
    from tests.pg_cluster import PgCluster

    cluster = PgCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The audit database URL of each supported engine: SQLite in tmp_path, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    server = request.getfixturevalue("pg_server")
    if server is None:
        import uuid

        import sqlalchemy as sa

        base = os.environ["DRAFTER_TEST_PG_URL"]
        name = f"t_{uuid.uuid4().hex[:10]}"
        with sa.create_engine(base, isolation_level="AUTOCOMMIT").connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE {name}")
        return base.rsplit("/", 1)[0] + f"/{name}"
    import uuid

    return server.create_database(f"t_{uuid.uuid4().hex[:10]}")
