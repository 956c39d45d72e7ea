"""A PostgreSQL database for the quiz tests: ``$GANLAB_TEST_DATABASE_URL``, else a throwaway server.

CI (``.ci/run``) starts one server and exports its URL. Run locally, the first test that asks
starts its own (Debian's ``postgresql`` package: ``initdb`` into a temporary folder, a private port,
a unix socket in that folder, ``trust`` for local connections, nothing written outside it) and
stops it when the tests end. Where neither is possible the PostgreSQL tests are skipped with
the reason. ``fresh_database(url)`` empties the quiz tables so each test starts clean.

Usage in a test module: ``from postgres import postgres_url`` (a session fixture giving the URL).
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

ENV = "GANLAB_TEST_DATABASE_URL"
_started: dict[str, str | None] = {}


def _binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and the server refuse to run as root: run them as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def start_server() -> str:
    """Start a throwaway server; return its SQLAlchemy URL, or raise RuntimeError saying why not."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="ganlab-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", _free_port()

    def run(command: list[str]) -> None:
        done = subprocess.run(_as_postgres(command), capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")

    run([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
    options = f"-p {port} -k {folder} -c listen_addresses='' -c max_connections=200 -c fsync=off"
    run([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w", "start"])

    def stop() -> None:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    psql = _binary("psql") or "psql"
    run([psql, "-h", str(folder), "-p", str(port), "-U", "postgres", "-c", "CREATE DATABASE ganlab_test"])
    return f"postgresql+psycopg://postgres@/ganlab_test?host={folder}&port={port}"


def server_url() -> str | None:
    """The test database's URL, or None (with the reason kept for the skip message)."""
    if "url" not in _started:
        given = os.environ.get(ENV, "").strip()
        if given:
            _started["url"] = given
        else:
            try:
                _started["url"] = start_server()
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                _started["url"], _started["why"] = None, str(error)
    return _started["url"]


def fresh_database(url: str) -> None:
    """Drop the quiz tables, so the store that opens next creates them empty."""
    from sqlalchemy import create_engine

    from ganlab.quiz.store import _database_url
    from ganlab.quiz.tables import metadata

    engine = create_engine(_database_url(url))
    try:
        metadata.drop_all(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = server_url()
    if url is None:
        pytest.skip(f"no PostgreSQL: {ENV} is not set and no server could be started ({_started.get('why')})")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    """A quiz database on SQLite (a file) and on PostgreSQL (a fresh one; skipped without a server)."""
    if request.param == "sqlite":
        return str(tmp_path / "quiz.sqlite")
    url = request.getfixturevalue("postgres_url")
    fresh_database(url)
    return url
