"""The org decides where its logs go: an org that has not opted in never has a line sent to the LLM, on every
path (automatic, on demand, regenerate, retries); opting in upgrades its recent offline summaries."""

import pytest
from django_q.models import OrmQ

from ddpui.core.org_settings.preferences import NOT_OPTED_IN, llm_refusal
from ddpui.core.summaries.on_demand import request_flow_run_summary
from ddpui.core.summaries.optin import set_llm_optin, upgrade_offline_summaries
from ddpui.core.summaries.pipeline import produce_session, summarize_flow_run
from ddpui.models import LlmSession, Org, OrgPreferences, SummaryStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def opted_out(org):
    """The test org, its admin never having opted in."""
    OrgPreferences.objects.filter(org=org).update(llm_optin=False, llm_optin_date=None)
    return org


def failed_dbt_run(dalgo_runs) -> dict:
    """A failed pipeline run whose dbt step failed; the task run is under "dbt_task"."""
    run, _ = dalgo_runs.pipeline(connections=0)
    return {**run, "dbt_task": dalgo_runs.dbt_task(run)}


def test_a_new_org_gets_llm_optin_default(db, settings):
    assert OrgPreferences.objects.get(org=Org.objects.create(name="A", slug="a")).llm_optin is False
    settings.LLM_OPTIN_DEFAULT = True
    assert OrgPreferences.objects.get(org=Org.objects.create(name="B", slug="b")).llm_optin is True


def test_automatic_path_of_an_org_not_opted_in_is_offline_and_says_why(opted_out, dalgo_runs, llm_api):
    session = summarize_flow_run(failed_dbt_run(dalgo_runs)["id"])
    assert llm_api.request_count == 0
    assert session.status == SummaryStatus.READY and session.provider == "offline"
    assert session.offline_reason == NOT_OPTED_IN and session.next_attempt_at is None, "no retry awaits the model"


def test_on_demand_regenerate_and_retry_paths_make_no_llm_request(opted_out, manager, dalgo_runs, llm_api):
    run = failed_dbt_run(dalgo_runs)
    on_demand = request_flow_run_summary(org=opted_out, orguser=manager, flow_run_id=run["id"],
                                         task_id=run["dbt_task"]["id"],
                                         regenerate=False)
    produce_session(on_demand.pk, retry=True)  # the queued on-demand task
    produce_session(on_demand.pk, regenerate=True)  # the regenerate button
    LlmSession.objects.filter(pk=on_demand.pk).update(status=SummaryStatus.FAILED, next_attempt_at=None)
    produce_session(on_demand.pk, retry=True)  # a due retry
    assert llm_api.request_count == 0
    on_demand.refresh_from_db()
    assert on_demand.provider == "offline" and on_demand.offline_reason == NOT_OPTED_IN


def test_opting_in_upgrades_recent_offline_summaries_with_the_model(opted_out, manager, dalgo_runs, llm_api):
    session = summarize_flow_run(failed_dbt_run(dalgo_runs)["id"])
    OrmQ.objects.all().delete()
    set_llm_optin(org=opted_out, orguser=manager, optin=True)
    queued = [row.task for row in OrmQ.objects.all()]
    assert [(task["args"], task["kwargs"].get("regenerate")) for task in queued] == [((session.pk,), True)]
    produce_session(session.pk, regenerate=True)  # what the queued task does
    session.refresh_from_db()
    assert llm_api.request_count == 1 and session.provider == "openai" and session.offline_reason == ""
    prefs = OrgPreferences.objects.get(org=opted_out)
    assert prefs.llm_optin_approved_by == manager and prefs.llm_optin_date is not None


def test_opting_out_holds_for_the_next_request_at_once(org, manager, dalgo_runs, llm_api):
    session = summarize_flow_run(failed_dbt_run(dalgo_runs)["id"])
    assert llm_api.request_count == 1 and session.provider == "openai"
    set_llm_optin(org=org, orguser=manager, optin=False)
    assert llm_refusal(org) == NOT_OPTED_IN
    produce_session(session.pk, regenerate=True)
    session.refresh_from_db()
    assert llm_api.request_count == 1 and session.provider == "offline"


def test_upgrade_leaves_model_summaries_and_old_ones_alone(opted_out, settings):
    settings.LLM_OPTIN_UPGRADE_DAYS = 7
    recent = LlmSession.objects.create(org=opted_out, flow_run_id="a", step_key="s", status=SummaryStatus.READY,
                                       provider="offline")
    LlmSession.objects.create(org=opted_out, flow_run_id="b", step_key="s", status=SummaryStatus.READY,
                              provider="openai")
    old = LlmSession.objects.create(org=opted_out, flow_run_id="c", step_key="s", status=SummaryStatus.READY,
                                    provider="offline")
    LlmSession.objects.filter(pk=old.pk).update(created_at="2020-01-01T00:00:00Z")
    assert upgrade_offline_summaries(opted_out) == [recent.pk]
