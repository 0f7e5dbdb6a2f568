"""The shared base: routing, recording, faults, latency and concurrency, over real sockets."""

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from standins.server import ANY_PATH, StandinServer


def echo_server(**kwargs) -> StandinServer:
    """A bare server with one echo route."""
    server = StandinServer(**kwargs)
    server.route("POST", r"/echo/(?P<name>\w+)", lambda req, name: (201, {"name": name, "got": req.json}, {"X-Echo": "1"}))
    server.route("GET", r"/ping", lambda req: (200, "pong"))
    return server


@pytest.fixture
def server():
    """A started echo server."""
    with echo_server() as running:
        yield running


def test_binds_localhost_and_records_requests(server):
    """Requests reach the route and are recorded with path, query, headers and JSON."""
    assert server.url.startswith("http://127.0.0.1:")
    response = httpx.post(f"{server.url}/echo/abc?x=1", json={"k": "v"}, headers={"X-Key": "s"})
    assert response.status_code == 201
    assert response.json() == {"name": "abc", "got": {"k": "v"}}
    assert response.headers["x-echo"] == "1"
    (recorded,) = server.requests("POST")
    assert recorded.path == "/echo/abc"
    assert recorded.query == {"x": ["1"]}
    assert recorded.headers["x-key"] == "s"
    assert recorded.json == {"k": "v"}
    assert recorded.time <= time.time()


def test_unknown_path_is_404_and_wrong_method_405(server):
    """Unrouted paths are 404 and routed paths with another method 405."""
    assert httpx.get(f"{server.url}/nope").status_code == 404
    assert httpx.get(f"{server.url}/echo/x").status_code == 405


def test_status_fault_is_consumed_once(server):
    """A status fault answers once with its headers and body, then the route answers."""
    server.add_fault("/ping", status=503, headers={"Retry-After": "7"}, body={"detail": "busy"})
    first = httpx.get(f"{server.url}/ping")
    assert (first.status_code, first.headers["retry-after"], first.json()) == (503, "7", {"detail": "busy"})
    assert httpx.get(f"{server.url}/ping").json() == "pong"
    assert server.pending_faults("/ping") == 0


def test_any_path_fault_and_default_error_body(server):
    """A '*' fault hits whatever path comes next and uses the server's error body."""
    server.add_fault(ANY_PATH, status=500, times=2)
    assert httpx.get(f"{server.url}/ping").json() == {"detail": "injected fault"}
    assert httpx.post(f"{server.url}/echo/a", json={}).status_code == 500
    assert httpx.get(f"{server.url}/ping").status_code == 200


def test_delay_fault_trips_client_timeout(server):
    """A delay longer than the client's timeout ends in a read timeout."""
    server.add_fault("/ping", delay=1.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{server.url}/ping", timeout=0.2)


def test_close_fault_hangs_up(server):
    """A close fault drops the connection without an answer."""
    server.add_fault("/ping", close=True)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{server.url}/ping")


def test_invalid_json_fault(server):
    """An invalid_json fault sends a 200 whose body does not parse."""
    server.add_fault("/ping", invalid_json=True)
    response = httpx.get(f"{server.url}/ping")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_global_latency():
    """Latency slows every answer."""
    with echo_server(latency=0.2) as slow:
        started = time.monotonic()
        httpx.get(f"{slow.url}/ping")
        assert time.monotonic() - started >= 0.2


def test_peak_concurrency_counts_parallel_requests():
    """The peak counts requests answered at the same time."""
    with echo_server(latency=0.3) as slow, httpx.Client() as client:
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(lambda _: client.get(f"{slow.url}/ping").status_code, range(4)))
        assert statuses == [200] * 4
        assert slow.peak_in_flight == 4
        assert slow.in_flight == 0
        assert slow.request_count == 4


def test_stop_releases_port_and_cuts_short_a_delay():
    """stop() does not wait out a delay, and frees the port."""
    server = echo_server().start()
    port = server.port
    server.add_fault("/ping", delay=30)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(httpx.get, f"{server.url}/ping", timeout=10)
        time.sleep(0.2)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2
        with pytest.raises(httpx.HTTPError):
            pending.result()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
