from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """Confirmation extraction and the SOP assistant."""

    name = "documents"
    verbose_name = "Documents"
