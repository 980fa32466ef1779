"""The book in the Django admin.

Reference data (currencies, the security master, brokers, custodians, traders, mandates,
benchmarks, corporate actions) is configuration: the admin role edits it here. Everything
the services write - trades and their versions, positions, lots, cash, flows, income, fees,
orders and executions, the feeds as received, the event log - is read-only: editing a row
by hand would put it out of step with the rows derived from it. Trades change through
their services (the admin actions below, the API, or the trade page), as new versions.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from . import selectors, services
from .models import (
    ActionApplication,
    ActionKind,
    AllocationTarget,
    BenchmarkWeight,
    BondTerms,
    Broker,
    BrokerConfirmation,
    CapitalFlow,
    CashBalance,
    CashMovement,
    CorporateAction,
    Currency,
    Custodian,
    CustodianCash,
    CustodianHolding,
    CustodianStatement,
    CustodyAccount,
    Event,
    Execution,
    FeeAccrual,
    IdSequence,
    IncomeEntitlement,
    Instrument,
    LotRelief,
    Mandate,
    Order,
    Position,
    TaxLot,
    Trade,
    Trader,
    TradeVersion,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, searched and filtered; never added, changed or deleted by hand."""

    list_per_page = 100

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


# --- the event log -----------------------------------------------------------------------


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """The event log, read-only: history is never added, edited or deleted by hand."""

    list_display = ["id", "wall_time", "tick", "kind", "trade_id", "mandate", "source", "actor"]
    list_filter = ["source", "kind"]
    search_fields = ["trade_id", "mandate", "instrument", "actor"]
    date_hierarchy = "wall_time"


@admin.register(IdSequence)
class IdSequenceAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "last"]
    search_fields = ["prefix"]


# --- reference data (configuration: editable by the admin role) ------------------------


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "minor_units"]
    search_fields = ["code", "name"]
    list_filter = ["minor_units"]


class BondTermsInline(admin.StackedInline):
    model = BondTerms
    extra = 0


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["ticker", "isin", "name", "asset_class", "currency", "sector", "active"]
    list_filter = ["asset_class", "currency", "sector", "active", "country"]
    search_fields = ["ticker", "isin", "name"]
    list_select_related = ["currency"]
    inlines = [BondTermsInline]


@admin.register(BondTerms)
class BondTermsAdmin(admin.ModelAdmin):
    list_display = [
        "instrument",
        "coupon_rate",
        "frequency",
        "day_count",
        "maturity_date",
        "rating",
    ]
    list_filter = ["day_count", "frequency", "rating"]
    search_fields = ["instrument__ticker", "instrument__isin", "issuer"]
    list_select_related = ["instrument"]
    date_hierarchy = "maturity_date"


@admin.register(Broker)
class BrokerAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "commission_bps",
        "min_commission",
        "confirmation_lag_ticks",
        "confirms_per_order",
    ]
    list_filter = ["confirms_per_order"]
    search_fields = ["code", "name"]


@admin.register(Custodian)
class CustodianAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(CustodyAccount)
class CustodyAccountAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "custodian"]
    list_filter = ["custodian"]
    search_fields = ["code", "name"]
    list_select_related = ["custodian"]


@admin.register(Trader)
class TraderAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class BenchmarkInline(admin.TabularInline):
    model = BenchmarkWeight
    extra = 0
    autocomplete_fields = ["instrument"]


@admin.register(Mandate)
class MandateAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "strategy",
        "base_currency",
        "custody_account",
        "units_outstanding",
        "inception_date",
        "active",
    ]
    list_filter = ["strategy", "base_currency", "active"]
    search_fields = ["code", "name"]
    list_select_related = ["custody_account"]
    # Units move only with capital flows (a service), never by typing a number.
    readonly_fields = ["units_outstanding"]
    inlines = [BenchmarkInline]


@admin.register(BenchmarkWeight)
class BenchmarkWeightAdmin(admin.ModelAdmin):
    list_display = ["mandate", "instrument", "sector", "asset_class", "weight"]
    list_filter = ["mandate", "asset_class"]
    search_fields = ["mandate__code", "instrument__ticker", "sector"]
    list_select_related = ["mandate", "instrument"]
    autocomplete_fields = ["instrument"]


def _apply_splits(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):  # type: ignore[no-untyped-def]
    """Apply the selected splits to every holder that has not had them (a missed split)."""
    now = selectors.sim_now()
    applied, refused = 0, []
    for action in queryset.order_by("ex_date", "id"):
        if action.kind != ActionKind.SPLIT:
            refused.append(f"{action} (not a split)")
            continue
        try:
            applied += len(
                services.corporate_action_apply(
                    action=action, tick=now.tick, sim_time=now.sim_time, actor=request.user
                )
            )
        except ValidationError as exc:
            refused.append(f"{action} ({'; '.join(exc.messages)})")
    modeladmin.message_user(request, f"Applied to {applied} holding(s).")
    if refused:
        modeladmin.message_user(request, f"Not applied: {', '.join(refused)}.", messages.WARNING)


_apply_splits.short_description = "Apply the selected splits to holdings not yet split"  # type: ignore[attr-defined]
_apply_splits.allowed_permissions = ("apply",)  # type: ignore[attr-defined]


class ActionApplicationInline(ReadOnlyInline):
    model = ActionApplication
    fields = [
        "application_id",
        "mandate",
        "quantity_before",
        "quantity_after",
        "cash_amount",
        "realized_pnl",
        "tick",
        "sim_time",
    ]
    readonly_fields = fields


@admin.register(CorporateAction)
class CorporateActionAdmin(admin.ModelAdmin):
    list_display = ["instrument", "kind", "ex_date", "pay_date", "amount_per_unit", "ratio"]
    list_filter = ["kind", "currency"]
    search_fields = ["instrument__ticker"]
    list_select_related = ["instrument"]
    date_hierarchy = "ex_date"
    autocomplete_fields = ["instrument"]
    inlines = [ActionApplicationInline]
    actions = [_apply_splits]

    def has_apply_permission(self, request: HttpRequest) -> bool:
        from opssuite import roles

        return roles.user_has_role(request.user, roles.OPERATOR)


@admin.register(ActionApplication)
class ActionApplicationAdmin(ReadOnlyAdmin):
    list_display = [
        "application_id",
        "corporate_action",
        "mandate",
        "effective_date",
        "quantity_before",
        "quantity_after",
        "cash_amount",
        "realized_pnl",
        "tick",
    ]
    list_filter = ["corporate_action__kind", "mandate"]
    search_fields = ["application_id", "instrument__ticker", "mandate__code"]
    list_select_related = ["corporate_action__instrument", "mandate"]
    date_hierarchy = "effective_date"


# --- trading (read-only; trades change through their services) --------------------------


class AllocationTargetInline(ReadOnlyInline):
    model = AllocationTarget
    fields = ["mandate", "quantity"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "order_id",
        "trade_date",
        "mandate",
        "instrument",
        "side",
        "quantity",
        "filled_quantity",
        "status",
        "broker",
        "reason",
    ]
    list_filter = ["status", "side", "time_in_force", "broker", "mandate"]
    search_fields = ["order_id", "instrument__ticker", "mandate__code"]
    list_select_related = ["mandate", "instrument", "broker"]
    date_hierarchy = "trade_date"
    inlines = [AllocationTargetInline]


@admin.register(AllocationTarget)
class AllocationTargetAdmin(ReadOnlyAdmin):
    list_display = ["order", "mandate", "quantity"]
    list_filter = ["mandate"]
    search_fields = ["order__order_id", "mandate__code"]
    list_select_related = ["order", "mandate"]


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin):
    list_display = [
        "execution_id",
        "order",
        "quantity",
        "price",
        "mid_price",
        "executed_at",
        "tick",
    ]
    list_filter = ["venue"]
    search_fields = ["execution_id", "order__order_id"]
    list_select_related = ["order"]
    date_hierarchy = "executed_at"


class TradeVersionInline(ReadOnlyInline):
    model = TradeVersion
    fields = ["version", "status", "reason", "actor", "tick", "sim_time", "recorded_at", "terms"]
    readonly_fields = fields
    ordering = ["version"]


class TradeChangeReasonForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Recorded on the new version")


def _cancel_trades(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):  # type: ignore[no-untyped-def]
    """Cancel the selected trades through `trade_cancel`, after asking why."""
    if "apply" in request.POST:
        form = TradeChangeReasonForm(request.POST)
        if form.is_valid():
            done, refused = [], []
            for trade in queryset.order_by("id"):
                now = selectors.sim_now()
                try:
                    services.trade_cancel(
                        trade_id=trade.trade_id,
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                        tick=now.tick,
                        sim_time=now.sim_time,
                    )
                    done.append(trade.trade_id)
                except ValidationError as exc:
                    refused.append(f"{trade.trade_id} ({'; '.join(exc.messages)})")
            if done:
                modeladmin.message_user(request, f"Cancelled: {', '.join(done)}.")
            if refused:
                modeladmin.message_user(
                    request, f"Not cancelled: {', '.join(refused)}.", messages.WARNING
                )
            return None
    else:
        form = TradeChangeReasonForm()
    return TemplateResponse(
        request,
        "book/admin_trade_cancel.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Cancel trades",
            "form": form,
            "trades": queryset,
            "opts": modeladmin.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        },
    )


_cancel_trades.short_description = "Cancel the selected trades (asks for a reason)"  # type: ignore[attr-defined]
_cancel_trades.allowed_permissions = ("cancel",)  # type: ignore[attr-defined]


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    """Trades, read-only: booking, amending and cancelling go through the services."""

    list_display = [
        "trade_id",
        "version",
        "trade_date",
        "mandate",
        "instrument",
        "side",
        "quantity",
        "price",
        "net",
        "currency",
        "status",
        "source",
    ]
    list_filter = ["status", "source", "side", "mandate", "broker", "instrument__asset_class"]
    search_fields = ["trade_id", "instrument__ticker", "instrument__isin", "mandate__code"]
    list_select_related = ["mandate", "instrument", "currency"]
    date_hierarchy = "trade_date"
    inlines = [TradeVersionInline]
    actions = [_cancel_trades]

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        from opssuite import roles

        return roles.user_has_role(request.user, roles.OPERATOR)


@admin.register(TradeVersion)
class TradeVersionAdmin(ReadOnlyAdmin):
    list_display = [
        "trade",
        "version",
        "status",
        "reason",
        "actor",
        "tick",
        "sim_time",
        "recorded_at",
    ]
    list_filter = ["status", "actor"]
    search_fields = ["trade__trade_id", "reason", "actor"]
    list_select_related = ["trade"]


# --- holdings and cash (derived from trades: read-only) ---------------------------------


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = [
        "mandate",
        "instrument",
        "quantity",
        "cost_basis",
        "realized_pnl",
        "updated_tick",
        "latest_date",
    ]
    list_filter = ["mandate", "instrument__asset_class"]
    search_fields = ["mandate__code", "instrument__ticker"]
    list_select_related = ["mandate", "instrument"]


@admin.register(TaxLot)
class TaxLotAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "mandate",
        "instrument",
        "open_date",
        "original_quantity",
        "open_quantity",
        "unit_cost",
        "opening_trade",
    ]
    list_filter = ["mandate", "instrument__asset_class"]
    search_fields = ["mandate__code", "instrument__ticker", "opening_trade__trade_id"]
    list_select_related = ["mandate", "instrument", "opening_trade"]
    date_hierarchy = "open_date"


@admin.register(LotRelief)
class LotReliefAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "lot",
        "closing_trade",
        "quantity",
        "unit_cost",
        "unit_proceeds",
        "realized_pnl",
        "closing_action",
    ]
    list_filter = ["lot__mandate"]
    search_fields = [
        "closing_trade__trade_id",
        "closing_action__application_id",
        "lot__instrument__ticker",
    ]
    list_select_related = ["lot__instrument", "closing_trade", "closing_action"]


@admin.register(CashMovement)
class CashMovementAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "mandate",
        "currency",
        "amount",
        "kind",
        "status",
        "value_date",
        "reference",
    ]
    list_filter = ["status", "kind", "currency", "mandate"]
    search_fields = ["reference", "mandate__code", "trade__trade_id"]
    list_select_related = ["mandate"]
    date_hierarchy = "value_date"


@admin.register(CashBalance)
class CashBalanceAdmin(ReadOnlyAdmin):
    list_display = ["mandate", "currency", "settled", "projected"]
    list_filter = ["currency", "mandate"]
    search_fields = ["mandate__code"]
    list_select_related = ["mandate"]


@admin.register(CapitalFlow)
class CapitalFlowAdmin(ReadOnlyAdmin):
    list_display = ["flow_id", "mandate", "kind", "units", "nav_per_unit", "amount", "trade_date"]
    list_filter = ["kind", "mandate"]
    search_fields = ["flow_id", "mandate__code"]
    list_select_related = ["mandate"]
    date_hierarchy = "trade_date"


@admin.register(IncomeEntitlement)
class IncomeEntitlementAdmin(ReadOnlyAdmin):
    list_display = [
        "income_id",
        "mandate",
        "instrument",
        "kind",
        "ex_date",
        "pay_date",
        "amount",
        "status",
    ]
    list_filter = ["kind", "status", "mandate"]
    search_fields = ["income_id", "mandate__code", "instrument__ticker"]
    list_select_related = ["mandate", "instrument"]
    date_hierarchy = "ex_date"


@admin.register(FeeAccrual)
class FeeAccrualAdmin(ReadOnlyAdmin):
    list_display = ["mandate", "accrual_date", "nav_basis", "rate", "amount", "currency", "paid"]
    list_filter = ["paid", "mandate"]
    search_fields = ["mandate__code"]
    list_select_related = ["mandate"]
    date_hierarchy = "accrual_date"


# --- feeds, as received (read-only: recon compares them with the book) ------------------


@admin.register(BrokerConfirmation)
class BrokerConfirmationAdmin(ReadOnlyAdmin):
    list_display = [
        "confirmation_id",
        "broker",
        "trade_id",
        "ticker",
        "side",
        "quantity",
        "price",
        "executed_at",
        "source",
        "received_tick",
    ]
    list_filter = ["source", "broker", "side"]
    search_fields = ["confirmation_id", "trade_id", "order_id", "ticker"]
    list_select_related = ["broker"]
    date_hierarchy = "executed_at"


class CustodianHoldingInline(ReadOnlyInline):
    model = CustodianHolding
    fields = ["reported_id", "instrument", "quantity", "price", "market_value"]


class CustodianCashInline(ReadOnlyInline):
    model = CustodianCash
    fields = ["currency", "amount"]


@admin.register(CustodianStatement)
class CustodianStatementAdmin(ReadOnlyAdmin):
    list_display = ["statement_id", "custody_account", "kind", "as_of", "received_at", "source"]
    list_filter = ["kind", "source", "custody_account"]
    search_fields = ["statement_id", "custody_account__code"]
    list_select_related = ["custody_account"]
    date_hierarchy = "as_of"
    inlines = [CustodianHoldingInline, CustodianCashInline]


@admin.register(CustodianHolding)
class CustodianHoldingAdmin(ReadOnlyAdmin):
    list_display = ["statement", "reported_id", "instrument", "quantity", "price", "market_value"]
    list_filter = ["statement__custody_account"]
    search_fields = ["reported_id", "statement__statement_id"]
    list_select_related = ["statement", "instrument"]


@admin.register(CustodianCash)
class CustodianCashAdmin(ReadOnlyAdmin):
    list_display = ["statement", "currency", "amount"]
    list_filter = ["currency"]
    search_fields = ["statement__statement_id"]
    list_select_related = ["statement"]
