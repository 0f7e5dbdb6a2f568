"""LlmSession's Dalgo session_status follows its status on every write path, .update() included; the structured
summary's fields are listed once, on the model."""

import dataclasses
import uuid

import pytest
from django.db import models
from model_bakery import baker

from ddpui.api.schemas import SummaryOut, summary_out
from ddpui.core.summaries.condense import condense
from ddpui.core.summaries.on_demand import regenerate_session
from ddpui.core.summaries.schema import SUMMARY_SCHEMA
from ddpui.core.summaries.store import save_summary, session_for_step
from ddpui.core.summaries.summarize import SummaryResult
from ddpui.models import STRUCTURED_SUMMARY_FIELDS, LlmSession, StructuredSummary, SummaryStatus

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


def distinct_value(field) -> object:
    """A value of the field's type that no default and no other field has."""
    if isinstance(field, models.JSONField):
        return [f"{field.name} 1", f"{field.name} 2"] if field.name != "evidence" else [{"line": 7, "text": "boom"}]
    if isinstance(field, models.BooleanField):
        return field.name == "grounded"
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return 7 + len(field.name) if isinstance(field, models.IntegerField) else 0.25
    return f"{field.name} value"


def test_the_summarys_fields_are_listed_once_and_reach_the_result_the_row_and_the_api(org):
    """Result, store and API answer take their fields from StructuredSummary: each field set on a result is
    stored on the row and served by the read API, whatever field is added to the model next."""
    assert STRUCTURED_SUMMARY_FIELDS == tuple(field.name for field in StructuredSummary._meta.fields)
    assert set(STRUCTURED_SUMMARY_FIELDS) <= {field.name for field in dataclasses.fields(SummaryResult)}
    assert set(STRUCTURED_SUMMARY_FIELDS) <= set(SummaryOut.model_fields)
    assert set(SUMMARY_SCHEMA["properties"]) <= set(STRUCTURED_SUMMARY_FIELDS)
    values = {field.name: distinct_value(field) for field in StructuredSummary._meta.fields}
    session = session_for_step(org=org, flow_run_id="r", step_key="task:1", failed_step={"task_run_id": "1"})
    save_summary(session, result=SummaryResult(**values), excerpt=condense(["boom"]), failed_step={},
                 fingerprint="f", timings={})
    stored = LlmSession.objects.get(pk=session.pk)
    assert {name: getattr(stored, name) for name in values} == values
    assert {name: summary_out(stored)[name] for name in values} == values
