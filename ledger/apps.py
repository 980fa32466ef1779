from django.apps import AppConfig


class LedgerConfig(AppConfig):
    """Double-entry accounting over the book."""

    name = "ledger"
    verbose_name = "Ledger"
