"""Feedback on summaries ("was this helpful?"): one per user and summary, editable, stored beside the summary."""


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
