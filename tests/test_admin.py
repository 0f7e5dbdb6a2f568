"""The admin: every model page and Django-Q2's task pages load; a summary reads well."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ
from model_bakery import baker

from ddpui.models import (
    DeliveryStatus,
    FailureDelivery,
    LlmSession,
    Notification,
    NotificationStatus,
    PrefectFlowRun,
    SummaryFeedback,
    SummaryStatus,
)

pytestmark = pytest.mark.django_db

PAGES = [
    "ddpui_org", "ddpui_orguser", "ddpui_apitoken", "ddpui_orgdataflow", "ddpui_orgtask", "ddpui_tasklock",
    "ddpui_prefectflowrun", "ddpui_airbytejob", "ddpui_notification", "ddpui_llmsession", "ddpui_summaryregeneration",
    "django_q_success", "django_q_failure", "django_q_schedule", "django_q_ormq",
    "ddpui_failuredelivery", "ddpui_orgpreferences", "ddpui_summaryfeedback", "ddpui_budgetnotice",
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


def action(staff_client, model: str, name: str, ids: list[int]):
    """Run an admin action on rows of a model's list."""
    return staff_client.post(reverse(f"admin:ddpui_{model}_changelist"),
                             {"action": name, "_selected_action": [str(pk) for pk in ids]}, follow=True)


def test_summaries_list_by_feedback_and_regenerate_from_the_admin(staff_client, org, manager):
    liked = baker.make(LlmSession, org=org, flow_run_id="run-a", step_key="s", status=SummaryStatus.READY,
                       title="liked summary")
    disliked = baker.make(LlmSession, org=org, flow_run_id="run-b", step_key="s", status=SummaryStatus.READY,
                          title="disliked summary", ready_at=timezone.now() - timedelta(days=1))
    SummaryFeedback.objects.create(session=liked, orguser=manager, helpful=True)
    SummaryFeedback.objects.create(session=disliked, orguser=manager, helpful=False, comment="wrong step")
    listing = staff_client.get(reverse("admin:ddpui_llmsession_changelist") + "?feedback=unhelpful").content.decode()
    assert "disliked summary" in listing and "liked summary</a>" not in listing.replace("disliked summary</a>", "")
    ordered = staff_client.get(reverse("admin:ddpui_llmsession_changelist") + "?o=-10").status_code
    assert ordered == 200
    OrmQ.objects.all().delete()
    action(staff_client, "llmsession", "regenerate", [disliked.pk])
    assert [row.task["args"] for row in OrmQ.objects.all()] == [(disliked.pk,)]
    disliked.refresh_from_db()
    assert disliked.regenerating_since is not None, "the summary shown stays until the new one is made"


def test_retry_a_notifications_failed_steps_now_and_resend_a_failure_message(staff_client, org):
    failed = baker.make(Notification, flow_run_id="run-1", state_name="Failed", dedupe_key="k1",
                        status=NotificationStatus.FAILED, steps_done=["flow_run_record"])
    handled = baker.make(Notification, flow_run_id="run-1", state_name="Failed", dedupe_key="k2",
                         status=NotificationStatus.HANDLED)
    OrmQ.objects.all().delete()
    action(staff_client, "notification", "retry_failed_steps_now", [failed.pk, handled.pk])
    assert [row.task["args"] for row in OrmQ.objects.all()] == [(failed.pk,)]
    failed.refresh_from_db()
    assert failed.status == NotificationStatus.RETRYING
    delivery = FailureDelivery.objects.create(org=org, flow_run_id="run-1", state_name="Failed", channel="email",
                                              wait_until=timezone.now(), status=DeliveryStatus.SENT)
    OrmQ.objects.all().delete()
    action(staff_client, "failuredelivery", "send_again", [delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING and OrmQ.objects.count() == 1


def test_a_flow_run_links_to_its_notifications_summaries_messages_and_tasks_and_back(staff_client, org):
    run = PrefectFlowRun.objects.create(flow_run_id="run-9", deployment_id="d", name="amber-fox", status="FAILED",
                                        state_name="Failed")
    notification = baker.make(Notification, flow_run_id="run-9", state_name="Failed", dedupe_key="k9")
    session = baker.make(LlmSession, org=org, flow_run_id="run-9", step_key="s")
    page = staff_client.get(reverse("admin:ddpui_prefectflowrun_change", args=[run.pk])).content.decode()
    assert "?flow_run_id=run-9" in page and "ddpui/failuredelivery/?flow_run_id=run-9" in page
    assert f"handle-notification-{notification.pk}" in page and "django_q/success/?name__in=" in page
    tasks = staff_client.get(reverse("admin:django_q_success_changelist") + "?name__in=summarize-flow-run-run-9")
    assert tasks.status_code == 200
    back = reverse("admin:ddpui_prefectflowrun_change", args=[run.pk])
    assert back in staff_client.get(reverse("admin:ddpui_llmsession_change", args=[session.pk])).content.decode()
    assert back in staff_client.get(reverse("admin:ddpui_notification_change", args=[notification.pk])).content.decode()


def test_the_summary_list_counts_grounded_and_disputed_model_summaries(staff_client, org):
    for number, (grounded, model_category) in enumerate([(True, ""), (True, ""), (False, "network"), (None, "")]):
        baker.make(LlmSession, org=org, flow_run_id=f"run-{number}", step_key="task:1", status=SummaryStatus.READY,
                   grounded=grounded, model_category=model_category, provider="openai" if grounded is not None else "offline")
    listing = staff_client.get(reverse("admin:ddpui_llmsession_changelist")).content.decode()
    assert "Model summaries: 2 grounded," in listing
    assert "1 not grounded" in listing and "1 with the rules&#x27; category kept" in listing.replace("'", "&#x27;")
