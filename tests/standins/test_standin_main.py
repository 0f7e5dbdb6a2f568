"""`python -m standins <kind>` runs a stand-in in the foreground until stopped."""

import subprocess
import sys

import httpx
import pytest


@pytest.mark.parametrize("kind", ["airbyte", "prefect"])
def test_runs_seeded_standin_in_foreground(kind):
    """The entry point serves a seeded store until terminated."""
    process = subprocess.Popen(
        [sys.executable, "-m", "standins", kind, "--port", "0", "--seed"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        listening = process.stdout.readline().split()
        seeded = process.stdout.readline()
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
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
