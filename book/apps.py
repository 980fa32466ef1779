from django.apps import AppConfig


class BookConfig(AppConfig):
    """The shared book of record, and the event log every module writes to."""

    name = "book"
    verbose_name = "Book of record"
