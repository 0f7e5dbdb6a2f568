"""scripts/setup_system.sh (called by scripts/setup.sh): PostgreSQL installed when missing, started when stopped,
DATABASE_URL's role and database created, nginx installed; idempotent (issue 11, item 7).

The branches run with stub commands first on PATH (apt-get, pg_isready, pg_createcluster, pg_ctlcluster,
runuser, psql) and fake install directories: each stub logs its arguments, so the test reads what the script
did. Nothing touches the shared PostgreSQL server except the last test, which runs the real script twice
against it (the server is running: it is only asked for a role and a database, never restarted).
"""

import os
import stat
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from harness import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "setup_system.sh"

# Each stub appends "name args..." to $STUB_LOG. pg_isready answers from the $STUB_STATE/ready file, which
# pg_ctlcluster start creates; apt-get install postgresql creates the server binary; psql answers "1" to a
# SELECT whose quoted name is listed in $STUB_EXISTING.
STUBS = {
    "apt-get": """
for arg in "$@"; do
  if [ "$arg" = postgresql ]; then mkdir -p "$PG_LIB_DIR/15/bin"; touch "$PG_LIB_DIR/15/bin/postgres"; fi
  if [ "$arg" = nginx-light ]; then touch "$STUB_STATE/nginx"; chmod +x "$STUB_STATE/nginx"; fi
done""",
    "pg_isready": '[ -e "$STUB_STATE/ready" ]',
    "pg_createcluster": 'mkdir -p "$PG_ETC_DIR/$1/main"; echo "local all all peer" > "$PG_ETC_DIR/$1/main/pg_hba.conf"',
    "pg_ctlcluster": 'touch "$STUB_STATE/ready"',
    "runuser": 'shift 3; exec "$@"',
    "psql": """
query="${@: -1}"
for name in $STUB_EXISTING; do
  case "$query" in SELECT*"'$name'"*) echo 1; exit 0 ;; esac
done""",
}


@pytest.fixture
def machine(tmp_path):
    """A fake machine: stub commands, empty install directories, a log of what the script ran."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, body in STUBS.items():
        stub = bin_dir / name
        stub.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >> "$STUB_LOG"\n{body}\n')
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PG_LIB_DIR": str(tmp_path / "lib"), "PG_ETC_DIR": str(tmp_path / "etc"),
        "NGINX_BIN": str(state / "nginx"), "STUB_STATE": str(state), "STUB_LOG": str(tmp_path / "log"),
        "STUB_EXISTING": "", "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/ddpui",
    }
    (tmp_path / "log").touch()
    return env


def run(env: dict, **overrides) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run the script on the fake machine; its result and the commands it ran."""
    done = subprocess.run(["bash", str(SCRIPT)], env={**env, **overrides}, capture_output=True, text=True, timeout=60)
    return done, Path(env["STUB_LOG"]).read_text().splitlines()


def installed_server(env: dict) -> None:
    """PostgreSQL 15 installed with its cluster, and nginx, but nothing running."""
    Path(env["PG_LIB_DIR"], "15", "bin").mkdir(parents=True)
    Path(env["PG_LIB_DIR"], "15", "bin", "postgres").touch()
    Path(env["PG_ETC_DIR"], "15", "main").mkdir(parents=True)
    Path(env["PG_ETC_DIR"], "15", "main", "pg_hba.conf").write_text("local all all peer\n")
    Path(env["NGINX_BIN"]).touch()
    Path(env["NGINX_BIN"]).chmod(0o755)


def test_a_fresh_machine_gets_postgresql_nginx_the_role_and_the_database(machine):
    done, ran = run(machine, DATABASE_URL="postgresql://dalgo:s3cret@127.0.0.1:5432/ddpui_fresh")
    assert done.returncode == 0, done.stderr
    installs = [line for line in ran if line.startswith("apt-get install")]
    assert len(installs) == 2 and "nginx-light" in installs[0] and "postgresql" in installs[1]
    assert ran.count("apt-get update -qq") == 1
    assert "pg_createcluster 15 main --port 5432" in ran
    assert "pg_ctlcluster --skip-systemctl-redirect 15 main start" in ran
    psql = [line for line in ran if line.startswith("psql")]
    assert any('CREATE ROLE "dalgo" LOGIN CREATEDB' in line for line in psql)
    assert any("ALTER ROLE \"dalgo\" PASSWORD 's3cret'" in line for line in psql)
    assert any('CREATE DATABASE "ddpui_fresh" OWNER "dalgo"' in line for line in psql)
    # With a password in DATABASE_URL, the server's authentication is left as it is.
    assert "ddpui" not in Path(machine["PG_ETC_DIR"], "15", "main", "pg_hba.conf").read_text()


def test_a_fresh_server_without_a_password_in_the_url_lets_local_tcp_in(machine):
    done, ran = run(machine, STUB_EXISTING="postgres")
    assert done.returncode == 0, done.stderr
    hba = Path(machine["PG_ETC_DIR"], "15", "main", "pg_hba.conf").read_text().splitlines()
    assert hba[0].startswith("host all all 127.0.0.1/32 trust")
    assert not any("CREATE ROLE" in line for line in ran), "postgres exists: not created again"
    assert any('CREATE DATABASE "ddpui" OWNER "postgres"' in line for line in ran)


def test_an_installed_but_stopped_server_is_started_and_nothing_is_installed(machine):
    installed_server(machine)
    done, ran = run(machine, STUB_EXISTING="postgres ddpui")
    assert done.returncode == 0, done.stderr
    assert not [line for line in ran if line.startswith(("apt-get", "pg_createcluster"))]
    assert "pg_ctlcluster --skip-systemctl-redirect 15 main start" in ran
    assert not [line for line in ran if "CREATE" in line]
    assert "ddpui" not in Path(machine["PG_ETC_DIR"], "15", "main", "pg_hba.conf").read_text()


def test_a_running_server_is_left_alone(machine):
    installed_server(machine)
    Path(machine["STUB_STATE"], "ready").touch()
    done, ran = run(machine, STUB_EXISTING="postgres")
    assert done.returncode == 0, done.stderr
    assert not [line for line in ran if line.startswith(("apt-get", "pg_createcluster", "pg_ctlcluster"))]
    assert [line for line in ran if line.startswith("psql") and "CREATE" in line] == [
        'psql -p 5432 -v ON_ERROR_STOP=1 -tAq -d postgres -c CREATE DATABASE "ddpui" OWNER "postgres"']


def test_a_remote_server_that_is_down_is_reported_not_installed(machine):
    done, ran = run(machine, DATABASE_URL="postgresql://dalgo@db.example.org:5432/ddpui")
    assert done.returncode == 1
    assert "not on this machine" in done.stderr
    assert not [line for line in ran if "postgresql" in line or line.startswith(("pg_ctlcluster", "psql"))]


def test_the_real_script_twice_against_the_running_server(tmp_path):
    """The shared server is running: both runs succeed; the first creates the database, the second nothing."""
    name = f"ddpui_setup_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}"}
    try:
        first = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
        second = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0 and second.returncode == 0, (first.stderr, second.stderr)
        assert f"setup: creating the database {name}" in first.stdout
        assert second.stdout == ""
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() == (1,)
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
