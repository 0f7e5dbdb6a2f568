"""The PostgreSQL database the app, the cluster and the caller share: created (or recreated) and migrated
with the project's own `manage.py migrate`, exactly as a deployment would be."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from harness import REPO_ROOT
from harness.processes import HarnessError

MIGRATE_TIMEOUT_SECONDS = 180
LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/"


def database_name(url: str) -> str:
    """The database name in a postgresql:// URL."""
    name = urlsplit(url).path.lstrip("/")
    if not name:
        raise HarnessError(f"no database name in {url!r}")
    return name


def own_database_url(name: str, *, override_env: str) -> str:
    """The URL in `override_env` if set, else database `name` on DATABASE_URL's PostgreSQL server (or the local
    one): benches and e2e tests get a database of their own beside whatever the caller uses."""
    if os.environ.get(override_env):
        return os.environ[override_env]
    base = os.environ.get("DATABASE_URL", "")
    server = urlsplit(base if base.startswith("postgres") else LOCAL_SERVER_URL)
    return urlunsplit((server.scheme, server.netloc, f"/{name}", "", ""))


def maintenance_url(url: str) -> str:
    """The same server's `postgres` database, to create or drop others from."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.replace("postgresql+psycopg", "postgresql"), parts.netloc, "/postgres", "", ""))


def prepare_database(url: str, *, fresh: bool) -> bool:
    """Create the database if missing (dropping it first when `fresh`); True if it was created."""
    name = database_name(url)
    try:
        with psycopg.connect(maintenance_url(url), autocommit=True, connect_timeout=5) as connection:
            if fresh:
                # FORCE ends sessions a previous, interrupted run may have left behind.
                connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return not exists
    except psycopg.Error as exc:
        raise HarnessError(f"PostgreSQL at {urlsplit(url).hostname}:{urlsplit(url).port} is not usable: {exc}") from exc


def drop_database(url: str) -> None:
    """Drop the database (the app's processes must be stopped first)."""
    with psycopg.connect(maintenance_url(url), autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database_name(url))))


def migrate(env: dict[str, str], log_path: Path) -> None:
    """Run `manage.py migrate` with the app's environment; its output goes to `log_path`."""
    with open(log_path, "ab") as log:
        try:
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=MIGRATE_TIMEOUT_SECONDS,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
            raise HarnessError(f"manage.py migrate failed ({exc}):\n{tail}") from exc
