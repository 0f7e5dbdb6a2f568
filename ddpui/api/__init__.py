"""The HTTP API: the Prefect webhook, the summary read API and Dalgo's compatible endpoints."""

from ninja import NinjaAPI

from ddpui.api import dalgo_api, summary_api, webhook_api
from ddpui.api.auth import OrgUserBearer

api = NinjaAPI(title="Dalgo failure summaries", version="1", auth=OrgUserBearer(), urls_namespace="ddpui-api")
api.add_router("/webhooks/v1/", webhook_api.router)
api.add_router("/api/v1/", summary_api.router)
api.add_router("/api/prefect/v1/", dalgo_api.prefect_router)
api.add_router("/api/airbyte/v1/", dalgo_api.airbyte_router)
api.add_router("/api/tasks/", dalgo_api.tasks_router)
