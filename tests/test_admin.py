"""The admin: every model page and Django-Q2's task pages load; a summary reads well."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from model_bakery import baker

from ddpui.models import LlmSession, SummaryStatus

pytestmark = pytest.mark.django_db

PAGES = [
    "ddpui_org", "ddpui_orguser", "ddpui_apitoken", "ddpui_orgdataflow", "ddpui_orgtask", "ddpui_tasklock",
    "ddpui_prefectflowrun", "ddpui_airbytejob", "ddpui_notification", "ddpui_llmsession", "ddpui_summaryregeneration",
    "django_q_success", "django_q_failure", "django_q_schedule", "django_q_ormq",
]


@pytest.fixture
def staff_client(client):
    """A client logged in as a superuser."""
    admin = get_user_model().objects.create_superuser("admin", "admin@ngo.test", "pw-for-tests-only")
    client.force_login(admin)
    return client


@pytest.mark.parametrize("page", PAGES)
def test_changelist_pages_load(staff_client, page):
    assert staff_client.get(reverse(f"admin:{page}_changelist")).status_code == 200


def test_a_summary_page_shows_step_title_fix_and_evidence(staff_client, org):
    session = baker.make(
        LlmSession, org=org, flow_run_id="run-1", step_key="task:1", status=SummaryStatus.READY,
        title="dbt-run failed: column missing", summary="plain words", fix_steps=["Rename the column"],
        evidence=[{"line": 42, "text": 'column "id" does not exist'}], failed_step={"kind": "dbt", "task_slug": "dbt-run"},
    )
    page = staff_client.get(reverse("admin:ddpui_llmsession_change", args=[session.pk])).content.decode()
    for text in ("dbt-run failed: column missing", "<li>Rename the column</li>", "42 | column &quot;id&quot;", "&quot;kind&quot;: &quot;dbt&quot;"):
        assert text in page
    listing = staff_client.get(reverse("admin:ddpui_llmsession_changelist") + "?status=ready").content.decode()
    assert "dbt-run failed: column missing" in listing


def test_the_summary_list_counts_grounded_and_disputed_model_summaries(staff_client, org):
    for number, (grounded, model_category) in enumerate([(True, ""), (True, ""), (False, "network"), (None, "")]):
        baker.make(LlmSession, org=org, flow_run_id=f"run-{number}", step_key="task:1", status=SummaryStatus.READY,
                   grounded=grounded, model_category=model_category, provider="openai" if grounded is not None else "offline")
    listing = staff_client.get(reverse("admin:ddpui_llmsession_changelist")).content.decode()
    assert "Model summaries: 2 grounded," in listing
    assert "1 not grounded" in listing and "1 with the rules&#x27; category kept" in listing.replace("'", "&#x27;")
