"""The Prefect client's log reads against the stand-in: counts without a count endpoint, pages both ways."""

import uuid

import pytest

from ddpui.clients.prefect import count_logs, log_filter_of, log_pages


@pytest.mark.parametrize("records", [0, 1, 199, 200, 201, 401, 4321])
def test_count_logs_is_exact_without_a_count_endpoint(prefect_api, records):
    flow_run_id = str(uuid.uuid4())
    prefect_api.add_logs([f"line {n}" for n in range(records)], flow_run_id=flow_run_id)
    prefect_api.add_logs(["another run's line"] * 50, flow_run_id=str(uuid.uuid4()))
    assert count_logs(log_filter_of(flow_run_id=flow_run_id)) == records


def test_log_pages_read_newest_first_from_the_end_and_stop_at_the_bound(prefect_api):
    flow_run_id = str(uuid.uuid4())
    prefect_api.add_logs([f"line {n}" for n in range(1000)], flow_run_id=flow_run_id)
    log_filter = log_filter_of(flow_run_id=flow_run_id)
    newest = [record["message"] for page in log_pages(log_filter, max_records=250, newest_first=True) for record in page]
    assert newest == [f"line {n}" for n in range(999, 749, -1)]
    oldest = [record["message"] for page in log_pages(log_filter, offset=990, max_records=50) for record in page]
    assert oldest == [f"line {n}" for n in range(990, 1000)]
