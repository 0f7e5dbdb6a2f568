"""manage.py queue_watchdog: restarts a wedged qcluster that supervisor cannot see is wedged.

Runs beside the cluster as its own supervisor program (qcluster.conf). Every QUEUE_WATCHDOG_INTERVAL_SECONDS it
runs the check of `manage.py check_queue`; after QUEUE_WATCHDOG_FAILURES stalled checks in a row it SIGKILLs the
cluster's whole process group (a wedged cluster ignores SIGTERM, and its workers may hold tasks), and
supervisor's autorestart starts a fresh cluster. The tasks the dead cluster had prefetched are redelivered when
their lease runs out; every task is idempotent (RELIABILITY.md). A database that is down is not a stall: killing
the cluster would not help, and it reconnects by itself.
"""

import logging
import os
import signal
import subprocess
import time

from django import db
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ddpui.core.queue_health import check_queue_health

logger = logging.getLogger(__name__)
SUPERVISORCTL_TIMEOUT_SECONDS = 10


def supervised_pid(program: str) -> int | None:
    """The pid supervisor reports for `program` (None when it is not running).

    supervisord gives its children SUPERVISOR_SERVER_URL, so supervisorctl reaches the same supervisord as the
    watchdog's own, whatever its configuration file.
    """
    command = ["supervisorctl"]
    if os.environ.get("SUPERVISOR_SERVER_URL"):
        command += ["-s", os.environ["SUPERVISOR_SERVER_URL"]]
    try:
        done = subprocess.run([*command, "pid", program], capture_output=True, text=True,
                              timeout=SUPERVISORCTL_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.error("queue watchdog: supervisorctl failed: %s", exc)
        return None
    answer = done.stdout.strip()
    return int(answer) if answer.isdigit() and int(answer) > 0 else None


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by `pid` (supervisor starts each program in its own group)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Command(BaseCommand):
    """Watch the queue; SIGKILL the supervised cluster's process group after repeated stalls."""

    help = "Restart (via supervisor) a qcluster that takes no work: see qcluster.conf."

    def add_arguments(self, parser):
        """--program: the supervisor program name of the cluster."""
        parser.add_argument("--program", default="qcluster", help="supervisor's name for the cluster program")

    def handle(self, *args, **options):
        """Loop until stopped: check, count stalls, kill after QUEUE_WATCHDOG_FAILURES in a row."""
        interval = settings.QUEUE_WATCHDOG_INTERVAL_SECONDS
        limit = settings.QUEUE_WATCHDOG_FAILURES
        if settings.QUEUE_STALL_SECONDS <= settings.Q_TIMEOUT_SECONDS:
            raise CommandError("QUEUE_STALL_SECONDS must exceed Q_TIMEOUT_SECONDS: a busy worker may take that long")
        logger.info("queue watchdog: checking every %s s; %s stalled checks restart program %s",
                    interval, limit, options["program"])
        stalls = 0
        grace_until = 0.0
        while True:
            # The watchdog lives for weeks: let Django drop a connection PostgreSQL closed meanwhile.
            db.close_old_connections()
            report = check_queue_health()
            # A fresh cluster gets a whole stall window to take work before it can be judged: the queue still
            # looks stalled while it boots, and killing it then would only restart it again and again.
            judged = time.monotonic() >= grace_until
            stalls = stalls + 1 if report.queue == "stalled" and judged else 0
            if stalls:
                logger.warning("queue watchdog: stalled (%s of %s): %s", stalls, limit, report.problem)
            if stalls >= limit:
                pid = supervised_pid(options["program"])
                if pid is None:
                    logger.error("queue watchdog: %s has no running process to restart", options["program"])
                else:
                    logger.error("queue watchdog: killing the process group of %s (pid %s)", options["program"], pid)
                    kill_group(pid)
                    grace_until = time.monotonic() + settings.QUEUE_STALL_SECONDS
                stalls = 0
            time.sleep(interval)
