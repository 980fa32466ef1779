from django.apps import AppConfig


class ReconConfig(AppConfig):
    """Position and trade reconciliation, breaks and their workflow."""

    name = "recon"
    verbose_name = "Reconciliation"
