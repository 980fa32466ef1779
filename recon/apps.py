from django.apps import AppConfig


class ReconConfig(AppConfig):
    """Position and trade reconciliation, breaks and their workflow."""

    name = "recon"
    verbose_name = "Reconciliation"

    def ready(self) -> None:
        from . import events, metrics  # noqa: F401  (event kinds registered at import)

        metrics.register()
