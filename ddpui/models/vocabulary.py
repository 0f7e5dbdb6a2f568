"""The words stored rows and payloads share, each defined once: step kinds, summary triggers, notification body
formats, summary categories and Prefect state names. Code compares against these members, never bare strings
(each member is a str, so stored values and JSON stay the same words)."""

from django.db import models


class StepKind(models.TextChoices):
    """What kind of step failed, as the locator classifies it."""

    AIRBYTE = "airbyte", "Airbyte sync, reset or clear of one connection"
    DBT = "dbt", "dbt command"
    SHELL = "shell", "Shell operation (git pull and others)"
    TASK = "task", "Another Prefect task"
    FLOW = "flow", "A flow run's own body"


class SummaryTrigger(models.TextChoices):
    """Why a summary was made."""

    FAILURE = "failure", "Automatic, on a failed run"
    ON_DEMAND = "on_demand", "Asked for by a user"


class BodyFormat(models.TextChoices):
    """How a notification reached us."""

    TEXT = "text", "Prefect's plain-text notification"
    FLOW_RUN_JSON = "flow_run_json", "A flow run as JSON"
    AUTOMATION_JSON = "automation_json", "A Prefect automation's event JSON"
    RECONCILE = "reconcile", "Found by the reconcile sweep, no webhook"


class SummaryCategory(models.TextChoices):
    """The failure categories a summary may carry (the model is asked for one of these)."""

    AUTH = "auth"
    CONFIG = "config"
    SCHEMA = "schema"
    DATA_QUALITY_TEST = "data_quality_test"
    SQL_ERROR = "sql_error"
    DEPENDENCY = "dependency"
    RESOURCE_LIMIT = "resource_limit"
    TIMEOUT = "timeout"
    NETWORK = "network"
    CODE_BUG = "code_bug"
    INFRASTRUCTURE = "infrastructure"
    OTHER = "other"


class PrefectState(models.TextChoices):
    """Prefect state names we act on; DBT_TEST_FAILED is Dalgo's own (type COMPLETED: tests failed, run went on)."""

    FAILED = "Failed"
    CRASHED = "Crashed"
    TIMED_OUT = "TimedOut"
    COMPLETED = "Completed"
    DBT_TEST_FAILED = "DBT_TEST_FAILED"
    CANCELLED = "Cancelled"
    CANCELLING = "Cancelling"
    PENDING = "Pending"
    RUNNING = "Running"
    RETRYING = "Retrying"
    SCHEDULED = "Scheduled"
    AWAITING_RETRY = "AwaitingRetry"
    LATE = "Late"
    PAUSED = "Paused"
