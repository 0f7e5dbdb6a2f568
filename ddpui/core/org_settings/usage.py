"""LLM usage per org and month (tokens in and out by model, from the stored summaries) and the monthly budget.

An org over LLM_MONTHLY_TOKEN_BUDGET_PER_ORG gets offline summaries until the month ends; its admins are told
once per month (a BudgetNotice row is the claim, so concurrent workers email once).
"""

import logging
from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from ddpui.core.auth.orgs import manager_emails
from ddpui.models import BudgetNotice, LlmSession, Org

logger = logging.getLogger(__name__)

# Rows made by the offline rules or reused from an earlier summary cost no model tokens.
MODEL_PROVIDERS_EXCLUDED = ("offline", "")


class BadMonth(ValueError):
    """A month that is not YYYY-MM (the API answers 400)."""


def month_bounds(month: str | None = None) -> tuple[datetime, datetime, str]:
    """[start, end) of a calendar month in UTC, and its YYYY-MM label; the current month when None."""
    if month is None:
        now = timezone.now()
        year, number = now.year, now.month
    else:
        try:
            year, number = (int(part) for part in month.split("-"))
            datetime(year, number, 1)
        except (ValueError, TypeError):
            raise BadMonth("month must be YYYY-MM") from None
        if len(month) != 7:
            raise BadMonth("month must be YYYY-MM")
    start = datetime(year, number, 1, tzinfo=dt_timezone.utc)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=dt_timezone.utc)
    return start, end, f"{year:04d}-{number:02d}"


def model_sessions(org: Org, start: datetime, end: datetime):
    """The org's summaries made by a model within [start, end)."""
    return (
        LlmSession.objects.filter(org=org, created_at__gte=start, created_at__lt=end, reused_from__isnull=True)
        .exclude(provider__in=MODEL_PROVIDERS_EXCLUDED)
    )


def monthly_usage(org: Org, month: str | None = None) -> dict:
    """Tokens in and out by model for one month, with the budget and what is left of it."""
    start, end, label = month_bounds(month)
    rows = (
        model_sessions(org, start, end)
        .values("model")
        .annotate(
            summaries=Count("pk"),
            tokens_in=Coalesce(Sum("tokens_in"), 0),
            tokens_out=Coalesce(Sum("tokens_out"), 0),
        )
        .order_by("model")
    )
    models = [dict(row) for row in rows]
    total = sum(row["tokens_in"] + row["tokens_out"] for row in models)
    budget = settings.LLM_MONTHLY_TOKEN_BUDGET_PER_ORG
    return {
        "month": label,
        "models": models,
        "tokens_in": sum(row["tokens_in"] for row in models),
        "tokens_out": sum(row["tokens_out"] for row in models),
        "budget": budget or None,
        "over_budget": bool(budget) and total >= budget,
    }


def tokens_used(org: Org, month: str | None = None) -> int:
    """Tokens in + out the org's model summaries used this month."""
    start, end, _ = month_bounds(month)
    totals = model_sessions(org, start, end).aggregate(
        tokens_in=Coalesce(Sum("tokens_in"), 0), tokens_out=Coalesce(Sum("tokens_out"), 0)
    )
    return totals["tokens_in"] + totals["tokens_out"]


def over_budget(org: Org) -> bool:
    """Whether the org used its monthly budget; the first time in a month, its admins are emailed."""
    budget = settings.LLM_MONTHLY_TOKEN_BUDGET_PER_ORG
    if not budget:
        return False
    used = tokens_used(org)
    if used < budget:
        return False
    tell_admins_once(org, used)
    return True


def tell_admins_once(org: Org, used: int) -> bool:
    """Email the org's admins that summaries are offline until the month ends; once per org and month."""
    _, end, label = month_bounds()
    recipients = manager_emails(org)
    if not recipients:
        return False
    try:
        with transaction.atomic():
            notice = BudgetNotice.objects.create(org=org, month=label, tokens_used=used)
    except IntegrityError:
        return False
    body = (
        f"Hello,\n\n{org.name} has used {used:,} LLM tokens in {label}, its monthly budget of "
        f"{settings.LLM_MONTHLY_TOKEN_BUDGET_PER_ORG:,}.\nUntil {end.date().isoformat()} failure summaries are made "
        f"by Dalgo's offline rules (no log is sent to the LLM); they say so on the summary page.\n\n— Dalgo\n"
    )
    try:
        send_mail(f"Dalgo: {org.name} reached its monthly LLM budget", body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:
        notice.delete()  # not sent: the next over-budget request tries again
        logger.exception("budget notice for %s not sent", org.slug)
        return False
    return True
