"""Feedback on summaries ("was this helpful?"): one per user and summary, editable, stored beside the summary."""

from django.db.models import Count, Q

from ddpui.core.redaction import redact_text
from ddpui.models import LlmSession, OrgUser, SummaryFeedback

MAX_COMMENT = 2000


def give_feedback(*, session: LlmSession, orguser: OrgUser, helpful: bool, comment: str) -> SummaryFeedback:
    """Store (or change) the user's feedback on the summary. The comment is redacted: people paste logs."""
    feedback, _ = SummaryFeedback.objects.update_or_create(
        session=session, orguser=orguser,
        defaults={"helpful": helpful, "comment": redact_text((comment or "")[:MAX_COMMENT])},
    )
    return feedback


def feedback_counts(session: LlmSession) -> dict[str, int]:
    """How many found the summary helpful and how many did not."""
    counts = SummaryFeedback.objects.filter(session=session).aggregate(
        yes=Count("pk", filter=Q(helpful=True)), no=Count("pk", filter=Q(helpful=False))
    )
    return {"helpful": counts["yes"], "not_helpful": counts["no"]}


def feedback_of(session: LlmSession, orguser: OrgUser) -> SummaryFeedback | None:
    """The user's own feedback on the summary, if any."""
    return SummaryFeedback.objects.filter(session=session, orguser=orguser).first()
