from django.apps import AppConfig


class DataqualityConfig(AppConfig):
    """Multi-source data checks, alerts and gates."""

    name = "dataquality"
    verbose_name = "Data quality"
