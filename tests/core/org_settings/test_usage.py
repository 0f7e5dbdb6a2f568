"""The monthly LLM budget: an org over it gets offline summaries until the month ends; its admins are told once."""

import pytest
from django.core import mail
from model_bakery import baker

from ddpui.core.org_settings.preferences import OVER_BUDGET, llm_refusal
from ddpui.core.org_settings.usage import month_bounds, over_budget
from ddpui.core.summaries.pipeline import summarize_flow_run
from ddpui.models import BudgetNotice, LlmSession, SummaryStatus

pytestmark = pytest.mark.django_db


def spend(org, tokens: int) -> None:
    """A model summary of the org this month that used `tokens`."""
    baker.make(LlmSession, org=org, flow_run_id=f"spent-{tokens}", step_key="s", status=SummaryStatus.READY,
               provider="openai", model="gpt-4o-mini", tokens_in=tokens, tokens_out=0)


def test_an_org_over_budget_gets_offline_summaries_and_its_admins_are_told_once(org, manager, dalgo_runs, llm_api,
                                                                               settings):
    settings.LLM_MONTHLY_TOKEN_BUDGET_PER_ORG = 1000
    spend(org, 1000)
    run, _ = dalgo_runs.pipeline(connections=0)
    dalgo_runs.dbt_task(run)
    session = summarize_flow_run(run["id"])
    assert llm_api.request_count == 0 and session.provider == "offline" and session.offline_reason == OVER_BUDGET
    assert over_budget(org) and llm_refusal(org) == OVER_BUDGET
    budget_mails = [m for m in mail.outbox if "monthly LLM budget" in m.subject]
    assert len(budget_mails) == 1 and budget_mails[0].to == ["manager@ngo.test"]
    assert BudgetNotice.objects.filter(org=org, month=month_bounds()[2]).count() == 1


def test_under_budget_the_model_is_asked(org, dalgo_runs, llm_api, settings):
    settings.LLM_MONTHLY_TOKEN_BUDGET_PER_ORG = 1_000_000
    spend(org, 10)
    run, _ = dalgo_runs.pipeline(connections=0)
    dalgo_runs.dbt_task(run)
    assert summarize_flow_run(run["id"]).provider == "openai" and llm_api.request_count == 1
    assert not mail.outbox


def test_month_bounds_end_with_the_calendar_month():
    start, end, label = month_bounds("2024-12")
    assert (start.isoformat(), end.isoformat(), label) == ("2024-12-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00",
                                                           "2024-12")
