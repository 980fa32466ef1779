from django.apps import AppConfig


class ReportingConfig(AppConfig):
    """NAV, performance, attribution and published reports."""

    name = "reporting"
    verbose_name = "Reporting"
