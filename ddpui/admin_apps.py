"""The admin's app config: django.contrib.admin with ddpui.admin_site.ThrottledAdminSite as `admin.site`.

A module of its own: app configs are imported before models can be, and ddpui.apps must declare one config.
"""

from django.contrib.admin.apps import AdminConfig


class ThrottledAdminConfig(AdminConfig):
    """django.contrib.admin whose login view throttles failed logins."""

    default_site = "ddpui.admin_site.ThrottledAdminSite"
