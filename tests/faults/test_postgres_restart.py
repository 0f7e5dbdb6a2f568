"""Item 6: PostgreSQL restarts while the cluster runs. The cluster recovers by itself (CONN_HEALTH_CHECKS,
CONN_MAX_AGE: a dead connection is replaced at the next task), and no task is lost: a notification enqueued
just before the restart and one enqueued after it are both handled.

The restart is of the whole PostgreSQL server, which other suites share: one quick restart, in this test only,
marked `pg_restart` (runs by default; deselect with -m "not pg_restart")."""

import os
import subprocess

import pytest
from django.db import connection

from ddpui.models import LlmSession, Notification, NotificationStatus, SummaryStatus
from tasks.webhooks import retry_notifications

pytestmark = [pytest.mark.cluster, pytest.mark.pg_restart]

RESTART_TIMEOUT_SECONDS = 60


def pg_ctl(action: str) -> None:
    """Run `pg_ctlcluster <version> main <action>` for the local server (needs root, as here)."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
                   check=True, timeout=RESTART_TIMEOUT_SECONDS, capture_output=True)


def accepts_connections() -> bool:
    """The server answers (pg_isready) again."""
    database = connection.settings_dict
    return subprocess.run(["pg_isready", "-h", database["HOST"], "-p", str(database["PORT"]), "-t", "1"],
                          capture_output=True, timeout=5).returncode == 0


@pytest.fixture
def restart_postgres(wait_for):
    """Restart PostgreSQL once, wait until it answers, and drop this process's dead connection. If the
    restart fails half way, the server is started again at teardown whatever happened."""

    def restart() -> None:
        pg_ctl("restart")
        wait_for(accepts_connections, timeout=RESTART_TIMEOUT_SECONDS, interval=0.2, what="PostgreSQL back")
        connection.close()

    yield restart
    if not accepts_connections():
        pg_ctl("start")
        wait_for(accepts_connections, timeout=RESTART_TIMEOUT_SECONDS, interval=0.2, what="PostgreSQL started")
    connection.close()


def test_cluster_recovers_from_a_postgres_restart_and_loses_no_task(
    leaky_runs, llm_api, webhook, clusters, wait_for, due_now, restart_postgres, assert_no_secrets
):
    before = leaky_runs.dbt_failure(name="before-restart")
    after = leaky_runs.dbt_failure(name="after-restart")
    # Prefect is slow for the first run, so its handler is still working when PostgreSQL goes away.
    leaky_runs.runs.prefect.add_fault(f"/api/flow_runs/{before['id']}", delay=1.5)
    cluster = clusters.start()
    assert webhook.post({"body": f"Flow run {before['name']} with id {before['id']} entered state Failed"}).json() == {"status": "ok"}

    wait_for(lambda: leaky_runs.runs.prefect.in_flight == 1, timeout=20, what="the first handler reading Prefect")
    restart_postgres()

    assert webhook.post({"body": f"Flow run {after['name']} with id {after['id']} entered state Failed"}).json() == {"status": "ok"}
    handled = wait_for(
        lambda: Notification.objects.filter(flow_run_id=after["id"], status=NotificationStatus.HANDLED).exists(),
        timeout=40, what="the notification sent after the restart handled",
    )
    assert handled and cluster.is_running(), "the same cluster, not restarted by hand"
    # The one sent just before was cut off mid-handler: its writes met the dead connection, the task failed, and
    # the row is still `received`. The retry sweep takes it again once its lease has run out (minutes later in
    # production, now here).
    cut_off = Notification.objects.get(flow_run_id=before["id"])
    assert cut_off.status == NotificationStatus.RECEIVED
    due_now(Notification, pk=cut_off.pk)
    assert retry_notifications() == 1
    wait_for(lambda: LlmSession.objects.filter(status=SummaryStatus.READY).count() == 2, timeout=40,
             what="both summaries ready")
    assert Notification.objects.filter(status=NotificationStatus.HANDLED).count() == 2
    assert_no_secrets()
