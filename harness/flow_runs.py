"""Serving the Dalgo-shaped flows (a runner process from the prefect venv) and running them by deployment."""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound

from harness import REPO_ROOT
from harness.flows.catalog import ALL_DEPLOYMENTS
from harness.prefect_server import prefect_env
from harness.processes import HarnessError, ManagedProcess, ProcessStack, wait_until

FLOWS_SCRIPT = REPO_ROOT / "harness" / "flows" / "dalgo_flows.py"
SERVE_TIMEOUT_SECONDS = 90
TERMINAL_STATE_TYPES = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})


@dataclass
class FlowServer:
    """The runner serving our deployments, and their ids by "<flow>/<deployment>" name."""

    api_url: str
    process: ManagedProcess
    deployment_ids: dict[str, str]


def deployment_ids_if_served(api_url: str) -> dict[str, str] | None:
    """Every deployment's id once all are registered, else None."""
    ids = {}
    with SyncPrefectClient(api_url) as client:
        for name in ALL_DEPLOYMENTS:
            try:
                ids[name] = str(client.read_deployment_by_name(name).id)
            except ObjectNotFound:
                return None
    return ids


def start_flow_server(
    stack: ProcessStack, prefect_python: Path, *, api_url: str, airbyte_api_url: str
) -> FlowServer:
    """Serve the flows (`flow.serve` runner: one subprocess per run) and wait until the deployments exist."""
    env = prefect_env(stack.run_dir / "prefect-home", api_url)
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "AIRBYTE_STANDIN_URL": airbyte_api_url,
            # The runner asks for scheduled runs every 10 s by default: too slow for a test.
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        }
    )
    process = stack.start("flow-runner", [str(prefect_python), str(FLOWS_SCRIPT)], env=env, cwd=REPO_ROOT)
    ids = wait_until(
        lambda: deployment_ids_if_served(api_url),
        timeout=SERVE_TIMEOUT_SECONDS,
        what="the flow runner to register its deployments",
        watch=[process],
        interval=0.5,
    )
    return FlowServer(api_url=api_url, process=process, deployment_ids=ids)


def start_run(server: FlowServer, deployment: str, parameters: dict) -> str:
    """Create a flow run of a served deployment; the runner picks it up within a second. Returns its id."""
    with SyncPrefectClient(server.api_url) as client:
        run = client.create_flow_run_from_deployment(server.deployment_ids[deployment], parameters=parameters)
    return str(run.id)


def read_run(api_url: str, flow_run_id: str) -> FlowRun:
    """The flow run as Prefect has it now."""
    with SyncPrefectClient(api_url) as client:
        return client.read_flow_run(flow_run_id)


def wait_for_end(
    server: FlowServer, flow_run_id: str, *, timeout: float, progress: Callable[[float], None] | None = None
) -> FlowRun:
    """Wait (bounded) until the run is in a terminal state; returns it."""
    started = time.monotonic()

    def ended() -> FlowRun | None:
        """The run, once it is in a terminal state."""
        run = read_run(server.api_url, flow_run_id)
        return run if run.state and run.state.type.value in TERMINAL_STATE_TYPES else None

    try:
        return wait_until(ended, timeout=timeout, what=f"flow run {flow_run_id} to end", watch=[server.process],
                          interval=0.5, progress=progress)
    except HarnessError as exc:
        state = read_run(server.api_url, flow_run_id).state
        raise HarnessError(f"{exc}\n(after {time.monotonic() - started:.0f} s the run is {state.name if state else '?'})") from exc
