"""The Airbyte stand-in read with httpx over sockets, in both job shapes and both log types."""

import datetime

import httpx

from standins.airbyte_api import AirbyteStandin, failure

CONNECTION = "5b1a3b5e-0000-4000-8000-000000000001"
OTHER_CONNECTION = "5b1a3b5e-0000-4000-8000-000000000002"
SYNC_TYPES = ["sync", "reset_connection", "clear", "refresh"]
NOW = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


def post(standin: AirbyteStandin, endpoint: str, body: dict, **kwargs) -> httpx.Response:
    """POST one Config API call."""
    return httpx.post(f"{standin.api_url}/{endpoint}", json=body, **kwargs)


def add_failed_job(standin: AirbyteStandin, created_at=NOW) -> dict:
    """A job whose first attempt failed transiently and second failed for good."""
    return standin.add_job(
        CONNECTION,
        "failed",
        created_at,
        attempts=[
            {"failures": [failure("HTTP 502 from api.github.com", failure_type="transient_error", retryable=True)], "log_lines": ["first try"]},
            {
                "failures": [failure("Out of memory", origin="destination", stacktrace="java.lang.OutOfMemoryError")],
                "log_lines": ["2025-03-01 12:01:00 destination > ERROR java.lang.OutOfMemoryError: Java heap space", "2025-03-01 12:01:01 platform > INFO done"],
            },
        ],
        streams=["issues", "commits"],
    )


def test_jobs_list_filters_pages_and_sorts_newest_first(airbyte_standin):
    """jobs/list applies connection, type and time-window filters, pages, and sorts newest first."""
    oldest = airbyte_standin.add_job(CONNECTION, "succeeded", NOW - datetime.timedelta(days=7), records=10)
    middle = add_failed_job(airbyte_standin, NOW - datetime.timedelta(minutes=30))
    newest = airbyte_standin.add_job(CONNECTION, "running", NOW)
    airbyte_standin.add_job(OTHER_CONNECTION, "failed", NOW)
    airbyte_standin.add_job(CONNECTION, "succeeded", NOW, config_type="check_connection_source")
    window = {
        "configTypes": SYNC_TYPES,
        "configId": CONNECTION,
        "createdAtStart": (NOW - datetime.timedelta(hours=1)).isoformat(),
        "createdAtEnd": NOW.isoformat(),
        "pagination": {"rowOffset": 0, "pageSize": 20},
    }
    listed = post(airbyte_standin, "jobs/list", window).json()
    assert listed["totalJobCount"] == 2
    assert [j["job"]["id"] for j in listed["jobs"]] == [newest["job"]["id"], middle["job"]["id"]]
    entry = listed["jobs"][1]
    assert set(entry) == {"job", "attempts"}
    assert entry["job"]["configId"] == CONNECTION and entry["job"]["configType"] == "sync"
    assert entry["job"]["createdAt"] == int((NOW - datetime.timedelta(minutes=30)).timestamp())
    # jobs/list attempts are bare AttemptRead objects, not wrapped in {"attempt": ...}.
    assert [a["id"] for a in entry["attempts"]] == [0, 1]
    assert entry["attempts"][1]["failureSummary"]["failures"][0]["failureOrigin"] == "destination"

    paged = post(airbyte_standin, "jobs/list", {"configTypes": SYNC_TYPES, "configId": CONNECTION, "pagination": {"rowOffset": 1, "pageSize": 1}}).json()
    assert paged["totalJobCount"] == 3
    assert [j["job"]["id"] for j in paged["jobs"]] == [middle["job"]["id"]]
    assert oldest["job"]["aggregatedStats"]["recordsCommitted"] == 10


def test_jobs_get_without_logs_wraps_attempts(airbyte_standin):
    """jobs/get_without_logs wraps each attempt as {attempt} and carries the failure summary."""
    job = add_failed_job(airbyte_standin)
    info = post(airbyte_standin, "jobs/get_without_logs", {"id": job["job"]["id"]}).json()
    assert info["job"]["status"] == "failed"
    assert set(info["job"]["aggregatedStats"]) == {"recordsEmitted", "bytesEmitted", "recordsCommitted", "bytesCommitted", "recordsRejected"}
    assert [s["streamName"] for s in info["job"]["streamAggregatedStats"]] == ["issues", "commits"]
    assert [set(a) for a in info["attempts"]] == [{"attempt"}, {"attempt"}]
    last = info["attempts"][-1]["attempt"]
    assert last["id"] == 1 and last["status"] == "failed" and last["endedAt"] > last["createdAt"]
    reason = last["failureSummary"]["failures"][0]
    assert set(reason) >= {"failureOrigin", "failureType", "externalMessage", "internalMessage", "stacktrace", "retryable", "timestamp"}
    assert info["attempts"][0]["attempt"]["failureSummary"]["failures"][0]["retryable"] is True


def test_jobs_get_includes_logs(airbyte_standin):
    """jobs/get adds each attempt's logs."""
    job = add_failed_job(airbyte_standin)
    info = post(airbyte_standin, "jobs/get", {"id": job["job"]["id"]}).json()
    assert info["attempts"][0]["logs"] == {"logLines": ["first try"]}
    assert info["attempts"][1]["logType"] == "formatted"


def test_attempt_get_for_job_formatted_and_structured(airbyte_standin):
    """attempt/get_for_job serves log lines, or structured events when asked."""
    job = add_failed_job(airbyte_standin)
    request = {"jobId": job["job"]["id"], "attemptNumber": 1}
    formatted = post(airbyte_standin, "attempt/get_for_job", request).json()
    assert formatted["attempt"]["id"] == 1
    assert formatted["logType"] == "formatted"
    assert formatted["logs"]["logLines"][0].endswith("Java heap space")

    structured = post(airbyte_standin, "attempt/get_for_job", {**request, "logType": "structured"}).json()
    assert structured["logType"] == "structured"
    first = structured["logs"]["events"][0]
    assert set(first) >= {"timestamp", "level", "message", "logSource"}
    assert (first["level"], first["logSource"]) == ("error", "destination")
    assert isinstance(first["timestamp"], int)


def test_server_default_log_type_and_pre_14_shape():
    """The server-wide log type decides by default; None mimics Airbyte before 1.4."""
    with AirbyteStandin(log_type="structured") as structured, AirbyteStandin(log_type=None) as legacy:
        for standin in (structured, legacy):
            add_failed_job(standin)
        request = {"jobId": 1000, "attemptNumber": 0}
        assert "events" in post(structured, "attempt/get_for_job", request).json()["logs"]
        legacy_answer = post(legacy, "attempt/get_for_job", request).json()
        assert "logType" not in legacy_answer and legacy_answer["logs"] == {"logLines": ["first try"]}


def test_errors_and_health(airbyte_standin):
    """Unknown jobs and attempts are 404, a body without configTypes is 422, health answers."""
    assert post(airbyte_standin, "jobs/get", {"id": 424242}).status_code == 404
    assert post(airbyte_standin, "attempt/get_for_job", {"jobId": add_failed_job(airbyte_standin)["job"]["id"], "attemptNumber": 5}).status_code == 404
    assert post(airbyte_standin, "jobs/list", {"configId": CONNECTION}).status_code == 422
    assert httpx.get(f"{airbyte_standin.api_url}/health").json() == {"available": True}


def test_bearer_token_is_checked():
    """With a token configured, a missing or wrong one is 401."""
    with AirbyteStandin(token="s3cret") as standin:
        body = {"configTypes": SYNC_TYPES}
        assert post(standin, "jobs/list", body).status_code == 401
        assert post(standin, "jobs/list", body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert post(standin, "jobs/list", body, headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_faults_apply_to_airbyte_endpoints(airbyte_standin):
    """Scripted faults hit the Config API paths once, then normal answers resume."""
    airbyte_standin.add_fault("/api/v1/jobs/list", status=502, body={"message": "bad gateway"})
    response = post(airbyte_standin, "jobs/list", {"configTypes": SYNC_TYPES})
    assert (response.status_code, response.json()) == (502, {"message": "bad gateway"})
    assert post(airbyte_standin, "jobs/list", {"configTypes": SYNC_TYPES}).status_code == 200
