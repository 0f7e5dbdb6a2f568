"""`python -m standins <kind>` runs a stand-in in the foreground until stopped."""

import os
import sys

import httpx
import pytest

from harness import REPO_ROOT
from harness.processes import ProcessStack, wait_until


@pytest.mark.parametrize("kind", ["airbyte", "prefect"])
def test_runs_seeded_standin_in_foreground(kind, tmp_path):
    """The entry point serves a seeded store until terminated."""
    stack = ProcessStack(tmp_path)
    try:
        process = stack.start(kind, [sys.executable, "-m", "standins", kind, "--port", "0", "--seed"],
                              env=dict(os.environ), cwd=REPO_ROOT)
        # Its first two lines, once both are written whole.
        output = wait_until(lambda: process.output_since_start().count("\n") >= 2 and process.output_since_start(),
                            timeout=30, what=f"the {kind} stand-in's first lines", watch=[process])
        listening_line, seeded = output.splitlines()[:2]
        listening = listening_line.split()
        url = listening[-1]
        assert url.startswith("http://127.0.0.1:")
        assert seeded.startswith("seeded ")
        if kind == "prefect":
            flow_run_id = seeded.split()[3]
            assert httpx.get(f"{url}/api/flow_runs/{flow_run_id}").json()["state_name"] == "Failed"
        else:
            job_id = int(seeded.split()[2])
            assert httpx.post(f"{url}/api/v1/jobs/get", json={"id": job_id}).json()["job"]["status"] == "failed"
    finally:
        stack.stop_all()
