"""Handler step: tell an org's managers that a pipeline run failed."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from ddpui.core.flow_runs import FlowRunInfo
from ddpui.core.redaction import redact_text
from ddpui.models import MANAGER_ROLES, FailureEmail, Org, OrgUser


def manager_emails(org: Org) -> list[str]:
    """Email addresses of the org's managers."""
    return sorted(
        {
            email
            for email in OrgUser.objects.filter(org=org, role__in=MANAGER_ROLES).values_list("user__email", flat=True)
            if email
        }
    )


MAX_MESSAGE_CHARS = 500


def failure_email_text(info: FlowRunInfo, org: Org) -> tuple[str, str]:
    """Subject and body of the failure email. The state message is redacted whole and only then cut: a cut
    first can leave a secret the redactor no longer recognises (a URL cut before its ``@``)."""
    subject = redact_text(f"Dalgo: pipeline run {info.name or info.id} {info.state_name.lower()}")
    message = redact_text(info.state_message)[:MAX_MESSAGE_CHARS]
    body = (
        f"Hello,\n\nA pipeline run of {org.name} ended in state {info.state_name}.\n\n"
        f"Run: {redact_text(info.name or info.id)}\nRun id: {info.id}\n"
        f"{'Message: ' + message + chr(10) if message else ''}"
        f"\nA plain-language summary of what went wrong will be in Dalgo within a minute:\n"
        f"{settings.FRONTEND_URL}/pipeline/history?flow_run_id={info.id}\n\n— Dalgo\n"
    )
    return subject, body


def email_failure(info: FlowRunInfo, org: Org | None) -> str:
    """Step 3 of the handler: on Failed/Crashed/TimedOut of a deployment run, email the org's managers."""
    if not info.is_failure or not info.deployment_id or not info.is_root:
        return "not a failed deployment run: no email"
    if org is None:
        return "org unknown: no email"
    recipients = manager_emails(org)
    if not recipients:
        return "org has no managers with an email address"
    # The same failure can reach us in two delivery styles (automation JSON and Dalgo's text body): the
    # unique claim row, not the notification, decides that it is emailed once. The row commits only once the
    # send has returned: a send cut short by anything (an error, the SMTP timeout, Django-Q's timeout, which is
    # a SystemExit, or a killed worker) rolls it back, so the retry sends instead of saying "already emailed".
    # A concurrent claim of the same failure waits on the row's unique index until this one is decided.
    subject, body = failure_email_text(info, org)
    try:
        with transaction.atomic():
            FailureEmail.objects.create(
                flow_run_id=info.id, state_name=info.state_name, run_count=info.run_count, recipients=len(recipients)
            )
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    except IntegrityError:
        return "already emailed"
    return f"emailed {len(recipients)} manager(s)"
