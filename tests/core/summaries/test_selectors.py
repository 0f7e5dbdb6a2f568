"""Read-side queries: every one is scoped to the caller's org, whatever ids are mixed in."""

import uuid

import pytest

from ddpui.core.summaries.selectors import (
    failure_session,
    flow_run_in_org,
    org_session_by_public_id,
    recent_org_sessions,
    session_for_node,
)
from ddpui.models import LlmSession, Org, SummaryStatus
from ddpui.models.vocabulary import SummaryTrigger

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_org(db) -> Org:
    """Another org, holding a summary of its own."""
    return Org.objects.create(name="Other NGO", slug="other-ngo")


def summary(org: Org, flow_run_id: str, **fields) -> LlmSession:
    """A ready failure summary of a run."""
    return LlmSession.objects.create(org=org, flow_run_id=flow_run_id, step_key=f"task:{uuid.uuid4()}",
                                     status=SummaryStatus.READY, trigger=SummaryTrigger.FAILURE, **fields)


def test_another_orgs_summary_is_found_by_no_selector(org, other_org):
    mine = summary(org, "run-mine", node_ids=["node-mine"])
    theirs = summary(other_org, "run-theirs", node_ids=["node-theirs"])

    assert org_session_by_public_id(org, mine.public_id) == mine
    assert org_session_by_public_id(org, theirs.public_id) is None
    assert failure_session(org, "run-theirs") is None and failure_session(org, "run-mine") == mine
    assert session_for_node(org, "run-theirs", "node-theirs") is None
    assert session_for_node(org, "run-mine", "node-mine") == mine
    assert recent_org_sessions(org, limit=10) == [mine]
    assert not flow_run_in_org(org, "run-theirs") and flow_run_in_org(org, "run-mine")


def test_recent_summaries_are_newest_first_filtered_and_bounded(org):
    older, newer = summary(org, "run-1"), summary(org, "run-2", title="newer")
    failed = summary(org, "run-3")
    LlmSession.objects.filter(pk=failed.pk).update(status=SummaryStatus.FAILED)

    assert recent_org_sessions(org, limit=10) == [failed, newer, older]
    assert recent_org_sessions(org, status=SummaryStatus.READY, limit=1) == [newer]
    assert recent_org_sessions(org, since=newer.created_at, limit=10) == [failed, newer]


def test_an_id_that_is_not_a_uuid_finds_nothing_and_queries_nothing(org, django_assert_num_queries):
    summary(org, "run-1")
    with django_assert_num_queries(0):
        assert org_session_by_public_id(org, "not-a-uuid") is None
        assert org_session_by_public_id(org, "1" * 500) is None
