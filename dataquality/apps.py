from django.apps import AppConfig


class DataqualityConfig(AppConfig):
    """Multi-source data checks, alerts and gates."""

    name = "dataquality"
    verbose_name = "Data quality"

    def ready(self) -> None:
        from . import events, metrics  # noqa: F401  (event kinds registered at import)

        metrics.register()
