"""The summary pipeline: locate -> evidence -> condense -> (reuse or) summarize -> store.

Entry points:
- summarize_flow_run: the automatic path (a failed root run), also `manage.py summarize_flow_run`;
- produce_session: (re)does one stored row; the retry schedule and the on-demand endpoints use it.
Every path ends in `produce`, which claims the row, so duplicate enqueues make one model call.
"""

import logging
import time

from django.conf import settings
from django.db import transaction

from ddpui.clients.airbyte import AirbyteError
from ddpui.clients.prefect import PrefectError
from ddpui.core.flow_runs import FlowRunInfo, org_of, read_flow_run_from_prefect
from ddpui.core.notify.deliveries import summary_stored
from ddpui.core.queueing.leases import release
from ddpui.core.summaries.condense import Excerpt, condense
from ddpui.core.summaries.evidence import Evidence, gather_evidence
from ddpui.core.summaries.fingerprint import fingerprint, specific_lines
from ddpui.core.summaries.locate import FailedStep, NodeNotFound, locate_failed_step, step_for_task_run
from ddpui.core.summaries.prompt import prompt_overhead_tokens
from ddpui.core.summaries.store import (
    claim_session,
    find_reusable,
    needs_work,
    record_failure,
    save_reuse,
    save_summary,
    save_timings,
    session_for_step,
)
from ddpui.core.summaries.summarize import summarize_logs
from ddpui.models import LlmSession, SummaryStatus
from ddpui.models.vocabulary import SummaryTrigger

logger = logging.getLogger(__name__)
# A budget set too small for the fixed prompt still leaves the excerpt room for an error and its context.
MIN_EXCERPT_TOKENS = 500
# When no error line names the cause, the fingerprint looks this far back in the excerpt for a specific line.
LAST_LINES_LOOKED_AT = 12


class Stopwatch:
    """Milliseconds spent per stage, for the stored `timings`."""

    def __init__(self) -> None:
        self.timings: dict[str, int] = {}
        self.started = time.monotonic()

    def lap(self, stage: str, *, waited_ms: int | None = None) -> None:
        """Record the time since the previous lap under `stage`; `waited_ms` of it, spent waiting (for logs to
        arrive), goes under `wait_for_logs` instead."""
        now = time.monotonic()
        spent = int((now - self.started) * 1000)
        self.timings[stage] = self.timings.get(stage, 0) + spent - (waited_ms or 0)
        if waited_ms is not None:
            self.timings["wait_for_logs"] = self.timings.get("wait_for_logs", 0) + waited_ms
        self.started = now


def summarize_flow_run(flow_run_id: str, *, regenerate: bool = False) -> LlmSession | None:
    """Summarize the failed step of a flow run (the automatic path). None if the run names no known org."""
    clock = Stopwatch()
    root = read_flow_run_from_prefect(flow_run_id)
    org = org_of(root)
    if org is None:
        logger.warning("flow run %s names no known org: no summary", flow_run_id)
        return None
    step = locate_failed_step(root)
    clock.lap("locate")
    session = session_for_step(org=org, flow_run_id=root.id, step_key=step.key, failed_step=step.as_json())
    return produce(session, step=step, root=root, regenerate=regenerate, clock=clock)


def produce_session(session_id: int, *, regenerate: bool = False, retry: bool = False) -> LlmSession | None:
    """(Re)do the summary of one stored row: a due retry (`retry`), or an on-demand regenerate."""
    session = LlmSession.objects.filter(pk=session_id).first()
    if session is None:
        return None
    try:
        root = read_flow_run_from_prefect(session.flow_run_id) if session.flow_run_id else None
        # An on-demand task row starts as a placeholder: resolve the task (or subflow) it names.
        if root is not None and session.trigger == SummaryTrigger.ON_DEMAND and session.task_id:
            step = step_for_task_run(root, session.task_id)
        else:
            step = FailedStep.from_json(session.failed_step)
    except PrefectError as exc:
        return record_failure(session, f"Prefect: {exc}", count_attempt=True, regenerate=regenerate)
    except NodeNotFound as exc:
        return record_failure(
            session,
            f"no such task or subflow run in this flow run: {exc}",
            transient=False,
            count_attempt=True,
            regenerate=regenerate,
        )
    return produce(session, step=step, root=root, regenerate=regenerate, clock=Stopwatch(), retry=retry)


def condense_evidence(evidence: Evidence, *, budget_tokens: int) -> Excerpt:
    """The redacted, budgeted excerpt of the evidence (structured facts first)."""
    return condense(evidence.lines, structured=[*evidence.structured, *evidence.notes], budget_tokens=budget_tokens)


def excerpt_budget(step: FailedStep, root: FlowRunInfo | None) -> int:
    """The excerpt's share of SUMMARY_TOKEN_BUDGET, which bounds the whole request: the budget minus the fixed
    prompt around the excerpt (never below MIN_EXCERPT_TOKENS)."""
    overhead = prompt_overhead_tokens(
        step.as_json(), run_name=root.name if root else "", state_name=root.state_name if root else ""
    )
    return max(settings.SUMMARY_TOKEN_BUDGET - overhead, MIN_EXCERPT_TOKENS)


def failure_fingerprint(excerpt: Excerpt, step_kind: str) -> str:
    """The recurring-failure key: the specific root-cause lines, normalized (fingerprint.specific_lines says
    where the specific error text comes from when they are generic)."""
    lines = specific_lines(
        [text for _, text in excerpt.key_lines],
        [text for _, text in excerpt.other_error_lines],
        excerpt.structured,
        [text for _, text in reversed(excerpt.lines[-LAST_LINES_LOOKED_AT:])],
    )
    return fingerprint(lines or excerpt.structured, step_kind)


def preview_flow_run(flow_run_id: str, *, budget_tokens: int | None = None) -> tuple[FailedStep, FlowRunInfo, Excerpt]:
    """What the automatic path would send for a flow run (its excerpt budget unless one is given), without
    storing or calling anything else."""
    root = read_flow_run_from_prefect(flow_run_id)
    step = locate_failed_step(root)
    budget = budget_tokens or excerpt_budget(step, root)
    step, evidence = gather_evidence(step, root)
    return step, root, condense_evidence(evidence, budget_tokens=budget)


def produce(
    session: LlmSession,
    *,
    step: FailedStep,
    root: FlowRunInfo | None,
    regenerate: bool,
    clock: Stopwatch,
    retry: bool = False,
) -> LlmSession:
    """Claim the row, gather and condense the evidence, reuse or summarize, store. Never raises for a
    dependency that is down: the row records the error and the retry schedule tries again.

    A regenerate that only got the offline summary (the model failed) keeps the good summary the row had.
    """
    if not (retry or needs_work(session, regenerate=regenerate)):
        return session
    if not claim_session(
        session, only_if_needed=not (retry or regenerate), retry=retry and not regenerate, regenerate=regenerate
    ):
        return session
    had_summary = session.status == SummaryStatus.READY
    try:
        step, evidence = gather_evidence(step, root)
        clock.lap("evidence", waited_ms=evidence.wait_ms)
        excerpt = condense_evidence(evidence, budget_tokens=excerpt_budget(step, root))
        failure_print = failure_fingerprint(excerpt, step.kind)
        clock.lap("condense")
        failed_step = step.as_json()
        source = None if regenerate else find_reusable(session, failure_print)
        if source is not None:
            clock.lap("summarize")
            reused = save_reuse(session, source=source, excerpt=excerpt, failed_step=failed_step, timings=clock.timings)
            summary_stored(reused)
            return reused
        result = summarize_logs(
            org=session.org,
            excerpt=excerpt,
            failed_step=failed_step,
            run_name=root.name if root else "",
            state_name=root.state_name if root else "",
        )
        clock.lap("summarize")
        if regenerate and had_summary and result.llm_error:
            return record_failure(session, f"LLM: {result.llm_error}", regenerate=True)
        # One transaction: readers see the summary and its complete timings (store included) together.
        with transaction.atomic():
            saved = save_summary(
                session,
                result=result,
                excerpt=excerpt,
                failed_step=failed_step,
                fingerprint=failure_print,
                timings=clock.timings,
            )
            clock.lap("store")
            save_timings(saved, clock.timings)
        # The failure message waits for this: queue it now (whichever first, this or the end of its wait).
        summary_stored(saved)
        return saved
    except (PrefectError, AirbyteError) as exc:
        logger.warning("summary %s: %s", session.pk, exc)
        return record_failure(session, str(exc), regenerate=regenerate)
    finally:
        release(LlmSession, session.pk)
