"""Every outbound HTTP call ends within its wall-clock deadline, however slowly the server trickles its answer
(issue 11: an LLM endpoint sending one byte every 4 s held a worker 44 s with LLM_TIMEOUT_SECONDS=10).

The servers are real sockets (standins/trickle.py) sending one byte every 0.3 s: no single read ever waits
longer than the per-read timeout, so only a total deadline stops the call.
"""

import time
import uuid

import httpx
import pytest

from ddpui.clients import airbyte, llm, prefect
from ddpui.clients.deadline import DeadlineExceeded, deadline, deadline_client
from standins.trickle import TrickleServer

# Generous against a 1 s deadline on a shared machine; a trickled answer takes 120 s.
BOUND_SECONDS = 3.0


@pytest.fixture(params=["head", "body"])
def trickle(request):
    """A server trickling its HTTP head, or its body, one byte every 0.3 s."""
    with TrickleServer(request.param, interval=0.3) as server:
        yield server


def elapsed(call) -> tuple[float, BaseException | None]:
    """Seconds the call took, and what it raised."""
    began = time.monotonic()
    try:
        call()
    except Exception as exc:
        return time.monotonic() - began, exc
    return time.monotonic() - began, None


def test_a_deadline_client_ends_a_trickled_request_at_its_total(trickle):
    client = deadline_client(1.0)
    took, error = elapsed(lambda: client.get(trickle.url))
    assert isinstance(error, DeadlineExceeded) and isinstance(error, httpx.TimeoutException)
    assert 0.9 < took < BOUND_SECONDS


def test_an_outer_deadline_bounds_several_requests_together(trickle):
    client = deadline_client(30.0)
    began = time.monotonic()
    with deadline(1.0):
        for _ in range(3):
            took, error = elapsed(lambda: client.get(trickle.url))
            assert isinstance(error, DeadlineExceeded)
    assert time.monotonic() - began < BOUND_SECONDS


def test_without_a_deadline_reads_under_the_timeout_go_on(settings):
    # The fault itself: per-read timeouts alone do not stop a trickle (here cut at 2 s by the test).
    with TrickleServer("body", interval=0.3) as server:
        with httpx.stream("GET", server.url, timeout=1.0) as response:
            began, received = time.monotonic(), 0
            for chunk in response.iter_raw(1):
                received += len(chunk)
                if time.monotonic() - began > 2:
                    break
    assert received >= 4, "the server kept sending, so no read timed out"


def test_the_whole_llm_call_ends_within_llm_timeout_seconds(trickle, settings):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-test", trickle.url + "/v1"
    settings.LLM_TIMEOUT_SECONDS = 1.0
    took, error = elapsed(lambda: llm.chat_json([{"role": "user", "content": "hi"}], schema={"type": "object"}))
    assert isinstance(error, llm.LlmError) and error.transient
    assert str(error) == "LLM timed out after 1 s"
    assert took < BOUND_SECONDS


def test_a_prefect_read_ends_within_prefect_http_timeout_seconds_and_is_not_retried(trickle, settings):
    settings.PREFECT_API_URL = trickle.url + "/api"
    settings.PREFECT_HTTP_TIMEOUT_SECONDS = 1.0
    connections_before = trickle.connections
    took, error = elapsed(lambda: prefect.read_flow_run(str(uuid.uuid4())))
    assert isinstance(error, prefect.PrefectError)
    assert took < BOUND_SECONDS
    # prefect-client retries read timeouts (restarting the clock); a passed deadline is not one of them.
    assert trickle.connections - connections_before <= 2  # the CSRF probe, at most, and the read


def test_an_airbyte_call_ends_within_airbyte_http_timeout_seconds(trickle, settings):
    settings.AIRBYTE_SERVER_HOST, settings.AIRBYTE_SERVER_PORT = "127.0.0.1", str(trickle.port)
    settings.AIRBYTE_HTTP_TIMEOUT_SECONDS = 1.0
    took, error = elapsed(lambda: airbyte.get_job(1))
    assert isinstance(error, airbyte.AirbyteError)
    assert took < BOUND_SECONDS
