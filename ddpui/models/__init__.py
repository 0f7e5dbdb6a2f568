"""All ddpui models, importable from ddpui.models."""

from ddpui.models.airbyte import AirbyteJob
from ddpui.models.auth import AuthFailureWindow, RevokedToken
from ddpui.models.flow_runs import Notification, NotificationStatus, PrefectFlowRun
from ddpui.models.llm import (
    SESSION_STATUS_BY_STATUS,
    STRUCTURED_SUMMARY_FIELDS,
    LlmSession,
    StructuredSummary,
    SummaryRegeneration,
    SummaryStatus,
)
from ddpui.models.notices import BudgetNotice, Channel, DeliveryStatus, FailureDelivery, SummaryFeedback
from ddpui.models.org import (
    MANAGER_ROLES,
    ApiToken,
    DataflowType,
    Org,
    OrgDataFlow,
    OrgPreferences,
    OrgTask,
    OrgUser,
    OrgUserRole,
    TaskLock,
)
from ddpui.models.vocabulary import BodyFormat, PrefectState, StepKind, SummaryCategory, SummaryTrigger
from ddpui.models.work import RetriedWork, RetriedWorkQuerySet

__all__ = [
    "AirbyteJob",
    "BodyFormat",
    "PrefectState",
    "StepKind",
    "SummaryCategory",
    "SummaryTrigger",
    "ApiToken",
    "AuthFailureWindow",
    "DataflowType",
    "BudgetNotice",
    "Channel",
    "DeliveryStatus",
    "FailureDelivery",
    "LlmSession",
    "STRUCTURED_SUMMARY_FIELDS",
    "StructuredSummary",
    "MANAGER_ROLES",
    "Notification",
    "NotificationStatus",
    "Org",
    "OrgDataFlow",
    "OrgPreferences",
    "OrgTask",
    "OrgUser",
    "OrgUserRole",
    "PrefectFlowRun",
    "RetriedWork",
    "RetriedWorkQuerySet",
    "RevokedToken",
    "SESSION_STATUS_BY_STATUS",
    "SummaryFeedback",
    "SummaryRegeneration",
    "SummaryStatus",
    "TaskLock",
]
