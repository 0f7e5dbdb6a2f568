"""The ddpui Django app."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save
from django.utils.module_loading import import_string

# Registers the start-up checks (the secret key) with Django's check framework.
from ddpui import checks  # noqa: F401

ENSURE_SCHEDULES = "ddpui.core.queueing.schedules.ensure_schedules"
CREATE_PREFERENCES = "ddpui.core.org_settings.preferences.create_preferences"


def ensure_schedules_after_migrate(**kwargs) -> None:
    """post_migrate receiver: create or update the Django-Q2 schedules (idempotent by name).

    Looked up by path at call time because django_q's models cannot be imported before the app registry is ready.
    """
    import_string(ENSURE_SCHEDULES)(**kwargs)


class DdpuiConfig(AppConfig):
    """App config: models live in ddpui.models, migrations in ddpui.migrations."""

    name = "ddpui"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Connect the schedule set-up to migrate, and a new org's preferences to its creation."""
        post_migrate.connect(ensure_schedules_after_migrate, sender=self, dispatch_uid="ddpui-ensure-schedules")
        # Looked up here, not imported at the top: models and core load only once the app registry is ready.
        post_save.connect(
            import_string(CREATE_PREFERENCES), sender=self.get_model("Org"), dispatch_uid="ddpui-org-preferences"
        )
