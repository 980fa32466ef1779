from django.apps import AppConfig


class RiskConfig(AppConfig):
    """Fixed-income pricing and risk."""

    name = "risk"
    verbose_name = "Risk"
