"""Everything one end-to-end run needs, started in order and stopped in reverse: the Airbyte stand-in, a real
Prefect server, the flow runner, the database, the web server (nginx + gunicorn), the qcluster; then Prefect is configured to call us
with the project's own `setup_prefect_webhook` command."""

import secrets
import signal
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from harness.app import WEBHOOK_PATH, AppConfig, app_env, run_manage, start_cluster, start_web
from harness.database import migrate, prepare_database
from harness.flow_runs import FlowServer, start_flow_server
from harness.prefect_server import PrefectServer, launch_prefect_server, wait_for_prefect_server
from harness.prefect_venv import ensure_prefect_venv
from harness.processes import ManagedProcess, ProcessStack
from standins.airbyte_api import AirbyteStandin

Progress = Callable[[str], None]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class DalgoStack:
    """A running end-to-end stack. `stop()` stops everything it started, whatever state it is in."""

    processes: ProcessStack
    airbyte: AirbyteStandin
    config: AppConfig | None = None
    prefect: PrefectServer | None = None
    flows: FlowServer | None = None
    web: ManagedProcess | None = None
    web_url: str = ""
    cluster: ManagedProcess | None = None
    setup_output: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def webhook_url(self) -> str:
        """Our webhook as Prefect calls it."""
        return self.web_url + WEBHOOK_PATH

    @property
    def env(self) -> dict[str, str]:
        """The app processes' environment."""
        return app_env(self.config, str(self.processes.run_dir / "app-prefect-home"))

    def restart_cluster(self, **changes) -> None:
        """Restart the qcluster with some settings changed (e.g. an LLM key); gunicorn keeps running."""
        self.config = replace(self.config, **changes)
        if self.cluster is not None:
            self.processes.remove(self.cluster)
        self.cluster = start_cluster(self.processes, self.env)

    def describe(self) -> str:
        """Every process's state and log tail (for a failure message)."""
        return self.processes.describe()

    def stop(self) -> None:
        """Stop every process (last started first) and the stand-in. Another Ctrl-C or SIGTERM while stopping
        is ignored: it would leave orphans behind."""
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS} if in_main_thread else {}
        try:
            self.processes.stop_all()
            self.airbyte.stop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def start_stack(
    run_dir: Path,
    *,
    database_url: str,
    fresh_database: bool,
    openai_api_key: str = "",
    openai_base_url: str = "",
    settings: dict[str, str] | None = None,
    progress: Progress = lambda message: None,
    waiting: Callable[[float], None] | None = None,
) -> DalgoStack:
    """Start the whole stack; on any failure, stop what was started and re-raise.

    Raises harness.prefect_venv.PrefectVenvUnavailable when the prefect venv cannot be built.
    """
    prefect_python = ensure_prefect_venv(progress=progress)
    stack = DalgoStack(processes=ProcessStack(run_dir), airbyte=AirbyteStandin().start())
    try:
        progress("starting Prefect server")
        stack.prefect = launch_prefect_server(stack.processes, prefect_python)
        stack.config = AppConfig(
            database_url=database_url,
            prefect_api_url=stack.prefect.api_url,
            webhook_key=secrets.token_urlsafe(24),
            airbyte_port=stack.airbyte.port,
            openai_api_key=openai_api_key,
            openai_base_url=openai_base_url,
            settings=dict(settings or {}),
        )
        # The database is made while Prefect boots: both take seconds.
        progress("preparing the database")
        prepare_database(database_url, fresh=fresh_database)
        migrate(stack.env, run_dir / "migrate.log")
        progress("waiting for Prefect")
        wait_for_prefect_server(stack.prefect, progress=waiting)
        progress("starting the flow runner, the web server (nginx + gunicorn) and the qcluster")
        stack.flows = start_flow_server(
            stack.processes, prefect_python, api_url=stack.prefect.api_url, airbyte_api_url=stack.airbyte.api_url
        )
        stack.web, stack.web_url = start_web(stack.processes, stack.env)
        # The failure messages the cluster sends link to the summary page on this server.
        stack.config = replace(stack.config, settings={"SUMMARY_PAGE_BASE_URL": stack.web_url, **stack.config.settings})
        stack.cluster = start_cluster(stack.processes, stack.env)
        progress("configuring Prefect to call our webhook")
        stack.setup_output = run_manage(stack.env, "setup_prefect_webhook", "--url", stack.webhook_url)
    except BaseException:
        stack.stop()
        raise
    return stack
