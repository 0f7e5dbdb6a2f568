"""All ddpui models, importable from ddpui.models."""

from ddpui.models.airbyte import AirbyteJob
from ddpui.models.auth import AuthFailureWindow, RevokedToken
from ddpui.models.flow_runs import FailureEmail, Notification, NotificationStatus, PrefectFlowRun
from ddpui.models.llm import SESSION_STATUS_BY_STATUS, LlmSession, SummaryRegeneration, SummaryStatus
from ddpui.models.org import (
    MANAGER_ROLES,
    ApiToken,
    DataflowType,
    Org,
    OrgDataFlow,
    OrgTask,
    OrgUser,
    OrgUserRole,
    TaskLock,
)

__all__ = [
    "AirbyteJob",
    "ApiToken",
    "AuthFailureWindow",
    "DataflowType",
    "FailureEmail",
    "LlmSession",
    "MANAGER_ROLES",
    "Notification",
    "NotificationStatus",
    "Org",
    "OrgDataFlow",
    "OrgTask",
    "OrgUser",
    "OrgUserRole",
    "PrefectFlowRun",
    "RevokedToken",
    "SESSION_STATUS_BY_STATUS",
    "SummaryRegeneration",
    "SummaryStatus",
    "TaskLock",
]
