"""LlmSession's Dalgo session_status follows its status on every write path, .update() included."""

import uuid

import pytest
from model_bakery import baker

from ddpui.core.summaries.on_demand import regenerate_session
from ddpui.models import LlmSession, SummaryStatus

pytestmark = pytest.mark.django_db


def test_session_status_follows_status_through_queryset_update(org):
    session = baker.make(LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="flow:x")
    expected = {SummaryStatus.PENDING: "running", SummaryStatus.READY: "completed", SummaryStatus.FAILED: "failed"}
    for status, session_status in expected.items():
        LlmSession.objects.filter(pk=session.pk).update(status=status)
        session.refresh_from_db()
        assert session.session_status == session_status, status


def test_a_regenerated_failed_summary_shows_running_again(org):
    session = baker.make(
        LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="flow:x", status=SummaryStatus.FAILED
    )
    assert LlmSession.objects.get(pk=session.pk).session_status == "failed"
    regenerate_session(session, orguser=None)
    assert LlmSession.objects.get(pk=session.pk).session_status == "running"


def test_a_saved_row_reads_its_session_status_without_reloading(org):
    session = baker.make(LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="flow:x")
    session.status = SummaryStatus.READY
    session.save()
    assert session.session_status == "completed"
