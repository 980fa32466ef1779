from typing import Any

from django.contrib import admin

from .models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The event log, read-only: history is never added, edited or deleted by hand."""

    list_display = ["id", "wall_time", "tick", "kind", "trade_id", "mandate", "source", "actor"]
    list_filter = ["source", "kind"]
    search_fields = ["trade_id", "mandate", "instrument", "actor"]
    date_hierarchy = "wall_time"
    list_per_page = 100

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
