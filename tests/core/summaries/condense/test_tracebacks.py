"""Tracebacks and stack traces: kept whole when they fit, trimmed in the middle when long."""


from ddpui.core.summaries.condense import DEFAULT_BUDGET_TOKENS, condense
from tests.core.summaries.condense.helpers import assert_budget, noise, shown_text

PY_TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/app/flows/sync.py", line 42, in run_sync',
    "    result = client.trigger(connection_id)",
    '  File "/venv/lib/python3.10/site-packages/httpx/_client.py", line 1722, in send',
    "    response = await transport.handle_async_request(request)",
    '  File "/venv/lib/python3.10/site-packages/httpx/_transports/default.py", line 77, in map_exceptions',
    "    raise mapped_exc(message) from exc",
    "httpx.ConnectError: [Errno 111] Connection refused",
]


def test_python_traceback_kept_whole():
    lines = noise(4000) + ["08:13:12.001 | ERROR   | Task run 'trigger-sync-0' - Encountered exception during execution:"]
    lines += PY_TRACEBACK + noise(4000, seed=5)
    excerpt = condense(lines)
    shown = {number for number, _ in excerpt.lines}
    start = 4002
    assert set(range(start, start + len(PY_TRACEBACK))) <= shown
    assert excerpt.key_lines[0][1] == "httpx.ConnectError: [Errno 111] Connection refused"


def test_long_java_stack_trimmed_in_the_middle():
    prefix = "2024-05-01 12:00:00 destination > "
    stack = [f'{prefix}Exception in thread "main" io.airbyte.workers.WorkerException: Sync failed']
    stack += [f"{prefix}\tat io.airbyte.workers.Step{index}.run(Step{index}.java:{index + 10})" for index in range(300)]
    stack += [f"{prefix}Caused by: java.sql.SQLException: ERROR: permission denied for schema analytics"]
    stack += [f"{prefix}\tat org.postgresql.core.Query{index}.execute(Query{index}.java:{index + 5})" for index in range(200)]
    stack += [f"{prefix}\t... 42 more"]
    lines = noise(2000) + stack + noise(500, seed=4)
    excerpt = condense(lines)
    text = shown_text(excerpt)
    assert "Exception in thread \"main\" io.airbyte.workers.WorkerException" in text
    assert "Caused by: java.sql.SQLException: ERROR: permission denied for schema analytics" in text
    assert "Step0.run" in text and "Step1.run" in text  # the head of the stack
    assert "Step150.run" not in text  # the middle went
    assert any("Caused by" in line for _, line in excerpt.key_lines)
    assert_budget(excerpt, DEFAULT_BUDGET_TOKENS)
