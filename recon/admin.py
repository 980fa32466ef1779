"""The recon in the Django admin: tolerances and the recon settings are configuration and
edited here (admin role); runs, breaks and their history are records, shown read-only -
a break is worked through `recon.services` (the Recon pages, the API, or the actions
below), so every change carries who and when into its history and the event log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from book.admin import ReadOnlyAdmin, ReadOnlyInline

from . import services
from .models import Break, BreakAction, ReconRun, ReconSettings, Tolerance


@admin.register(Tolerance)
class ToleranceAdmin(admin.ModelAdmin):
    list_display = [
        "asset_class",
        "quantity_abs",
        "quantity_rel_pct",
        "market_value_abs",
        "cash_abs",
    ]
    list_editable = ["quantity_abs", "quantity_rel_pct", "market_value_abs", "cash_abs"]
    ordering = ["asset_class"]


@admin.register(ReconSettings)
class ReconSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "price_tolerance",
        "time_tolerance_ms",
        "pnl_tolerance",
        "check_side",
        "check_instrument",
        "check_pnl",
        "confirmation_grace_ticks",
        "escalate_after_days",
    ]
    fieldsets = [
        (None, {"fields": ["name"]}),
        (
            "Trade recon",
            {
                "fields": [
                    "price_tolerance",
                    "time_tolerance_ms",
                    "pnl_tolerance",
                    "check_side",
                    "check_instrument",
                    "check_pnl",
                    "confirmation_grace_ticks",
                ]
            },
        ),
        ("The queue", {"fields": ["escalate_after_days"]}),
    ]

    def get_readonly_fields(self, request: Any, obj: Any = None) -> list[str]:
        # The recon reads the row named "default": renaming it would orphan the settings.
        return ["name"] if obj is not None else []

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


def _page_link(url_name: str, value: str) -> str:
    return format_html(
        '<a href="{}">{} on the Recon page</a>', reverse(url_name, args=[value]), value
    )


@admin.register(ReconRun)
class ReconRunAdmin(ReadOnlyAdmin):
    list_display = [
        "run_id",
        "kind",
        "source",
        "status",
        "mandate",
        "statement",
        "tick",
        "sim_time",
        "started_at",
        "duration_ms",
        "actor",
    ]
    list_filter = ["kind", "source", "status", "mandate"]
    search_fields = ["=run_id", "statement__statement_id", "actor"]
    list_select_related = ["mandate", "statement"]
    readonly_fields = ["page_link"]
    show_full_result_count = False

    @admin.display(description="Page")
    def page_link(self, run: ReconRun) -> str:
        return _page_link("recon-run", run.run_id)


class BreakActionInline(ReadOnlyInline):
    model = BreakAction
    fields = ["at", "kind", "actor", "sim_time", "run", "note", "data"]
    readonly_fields = fields
    ordering = ["id"]

    def get_queryset(self, request: Any) -> Any:
        return super().get_queryset(request).select_related("run")


def _workflow(action: str, done: str, **kwargs: Any) -> Any:
    """An admin action that calls the service on the selected breaks."""

    def run(modeladmin: admin.ModelAdmin, request: Any, queryset: Any) -> None:
        ids = list(queryset.values_list("break_id", flat=True))
        params = {k: (request.user if v == "me" else v) for k, v in kwargs.items()}
        try:
            rows = services.BULK_ACTIONS[action](ids, actor=request.user, **params)
        except ValidationError as exc:
            modeladmin.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        modeladmin.message_user(request, f"{len(rows)} break(s) {done}.", messages.SUCCESS)

    run.__name__ = f"breaks_{action}"
    return run


@admin.register(Break)
class BreakAdmin(ReadOnlyAdmin):
    list_display = [
        "break_id",
        "recon",
        "break_type",
        "classification",
        "status",
        "mandate",
        "instrument",
        "trade_id",
        "difference",
        "first_seen_date",
        "assignee",
        "escalated",
    ]
    list_filter = ["status", "recon", "break_type", "classification", "escalated", "mandate"]
    search_fields = ["=break_id", "=trade_id", "=match_key", "reported_id"]
    list_select_related = ["mandate", "instrument", "assignee"]
    date_hierarchy = "first_seen_date"
    inlines = [BreakActionInline]
    readonly_fields = ["page_link"]
    show_full_result_count = False
    actions = [
        admin.action(description="Assign the selected breaks to me", permissions=["work"])(
            _workflow("assign", "assigned to you", assignee="me")
        ),
        admin.action(description="Escalate the selected breaks", permissions=["work"])(
            _workflow("escalate", "escalated", note="escalated from the admin")
        ),
    ]

    def has_work_permission(self, request: Any) -> bool:
        from opssuite import roles

        return roles.user_has_role(request.user, roles.OPERATOR)

    @admin.display(description="Page")
    def page_link(self, brk: Break) -> str:
        return _page_link("recon-break", brk.break_id)
