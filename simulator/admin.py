"""The simulator in the Django admin.

What the simulator computed - ticks, market snapshots, prices, FX quotes, model closes,
FRED history - and the ground truth of the faults it injected are read-only: they are the
record of what happened. Scenarios (fault rates) are configuration, edited by the admin
role. The clock is changed only through its services (pause, resume: actions below), so
every change is in the event log.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from book.admin import ReadOnlyAdmin
from opssuite import roles

from . import services
from .models import (
    Clock,
    FaultKind,
    FredObservation,
    FxQuote,
    InjectedFault,
    MarketSnapshot,
    ModelClose,
    Price,
    Scenario,
    SimInstrument,
    Tick,
)


@admin.register(Clock)
class ClockAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "last_tick",
        "last_tick_sim_time",
        "running",
        "tick_minutes",
        "seed",
        "scenario",
    ]
    actions = ["pause", "resume"]

    @admin.action(description="Pause the clock", permissions=["control"])
    def pause(self, request: HttpRequest, queryset: QuerySet) -> None:
        services.clock_pause(actor=request.user)
        self.message_user(request, "Clock paused.")

    @admin.action(description="Resume the clock", permissions=["control"])
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        services.clock_resume(actor=request.user)
        self.message_user(request, "Clock resumed.")

    def has_control_permission(self, request: HttpRequest) -> bool:
        return roles.user_has_role(request.user, roles.ADMIN)


@admin.register(Tick)
class TickAdmin(ReadOnlyAdmin):
    list_display = ["number", "sim_time", "status", "claimed_by", "attempts", "finished_at"]
    list_filter = ["status"]
    search_fields = ["number", "claimed_by", "error"]
    date_hierarchy = "sim_time"


@admin.register(FredObservation)
class FredObservationAdmin(ReadOnlyAdmin):
    list_display = ["series_id", "date", "value", "source", "loaded_at"]
    list_filter = ["source", "series_id"]
    search_fields = ["series_id"]
    date_hierarchy = "date"


class ScenarioForm(forms.ModelForm):
    """Fault rates: {fault kind: chance per opportunity, 0 to 1}."""

    class Meta:
        model = Scenario
        fields = ["name", "description", "fault_rates"]

    def clean_fault_rates(self) -> dict[str, Any]:
        rates = self.cleaned_data.get("fault_rates") or {}
        if not isinstance(rates, dict):
            raise forms.ValidationError('must be an object, e.g. {"price_spike": 0.001}')
        errors = []
        for kind, rate in rates.items():
            if kind not in FaultKind.values:
                errors.append(f"{kind}: not a fault kind ({', '.join(FaultKind.values)})")
            elif isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                errors.append(f"{kind}: the rate must be a number from 0 to 1")
        if errors:
            raise forms.ValidationError(errors)
        return rates


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    """Scenarios are configuration; the built-in ones are kept (not deleted)."""

    form = ScenarioForm
    list_display = ["name", "builtin", "description"]
    list_filter = ["builtin"]
    search_fields = ["name", "description"]

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        if obj is not None and obj.builtin:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(SimInstrument)
class SimInstrumentAdmin(ReadOnlyAdmin):
    """Factor loadings are read-only: the same seed must give the same market, and the
    market engine caches them per process."""

    list_display = [
        "instrument",
        "beta",
        "sector_beta",
        "idio_vol",
        "initial_price",
        "credit_spread_bp",
    ]
    list_filter = ["instrument__asset_class"]
    search_fields = ["instrument__ticker"]
    list_select_related = ["instrument"]


@admin.register(MarketSnapshot)
class MarketSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["tick", "sim_time", "regime", "vix", "market_return", "credit_spread"]
    list_filter = ["regime"]
    search_fields = ["tick"]
    date_hierarchy = "sim_date"


@admin.register(Price)
class PriceAdmin(ReadOnlyAdmin):
    list_display = ["tick", "instrument", "vendor", "price", "sim_time"]
    list_filter = ["vendor", "instrument__asset_class"]
    search_fields = ["instrument__ticker"]
    list_select_related = ["instrument"]
    show_full_result_count = False


@admin.register(FxQuote)
class FxQuoteAdmin(ReadOnlyAdmin):
    list_display = ["tick", "pair", "source", "rate", "sim_time"]
    list_filter = ["source", "pair"]
    search_fields = ["pair__ticker"]
    list_select_related = ["pair"]
    show_full_result_count = False


@admin.register(ModelClose)
class ModelCloseAdmin(ReadOnlyAdmin):
    list_display = ["sim_date", "instrument", "price"]
    list_filter = ["instrument__asset_class"]
    search_fields = ["instrument__ticker"]
    list_select_related = ["instrument"]
    date_hierarchy = "sim_date"


@admin.register(InjectedFault)
class InjectedFaultAdmin(ReadOnlyAdmin):
    """Ground truth of what the simulator broke; modules must never read it to find faults."""

    list_display = [
        "id",
        "kind",
        "tick",
        "sim_time",
        "trade_id",
        "instrument",
        "mandate",
        "magnitude",
    ]
    list_filter = ["kind", "mandate"]
    search_fields = ["trade_id", "instrument__ticker", "mandate__code"]
    list_select_related = ["instrument", "mandate"]
    date_hierarchy = "sim_time"
