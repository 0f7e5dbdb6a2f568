"""A real Prefect server (from the prefect venv) on a free loopback port, with its state in the run directory."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.processes import ManagedProcess, ProcessStack, free_port, http_ok, wait_until

# First start on an empty database takes about 16 s here (migrations); a loaded CI machine needs margin.
START_TIMEOUT_SECONDS = 120


@dataclass
class PrefectServer:
    """A started Prefect server."""

    api_url: str
    process: ManagedProcess


def prefect_env(prefect_home: Path, api_url: str) -> dict[str, str]:
    """The environment every prefect-venv process gets: its own home, no analytics, the server's API URL.

    Without PREFECT_API_URL the full package silently starts a private ephemeral server and finds nothing.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "VIRTUAL_ENV"))}
    env.update(
        {
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_API_URL": api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def launch_prefect_server(stack: ProcessStack, prefect_python: Path) -> PrefectServer:
    """Start `prefect server start` on 127.0.0.1 without waiting for it (its first start takes ~16 s)."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    home = stack.run_dir / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    process = stack.start(
        "prefect-server",
        [str(prefect_python.parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=prefect_env(home, api_url),
        cwd=stack.run_dir,
    )
    return PrefectServer(api_url=api_url, process=process)


def wait_for_prefect_server(server: PrefectServer, *, progress: Callable[[float], None] | None = None) -> None:
    """Wait (bounded) until the server's /api/health answers."""
    wait_until(
        lambda: http_ok(f"{server.api_url}/health"),
        timeout=START_TIMEOUT_SECONDS,
        what=f"the Prefect server at {server.api_url}",
        watch=[server.process],
        interval=0.5,
        progress=progress,
    )
