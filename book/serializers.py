"""Book API serializers: one for output, one for input, a service in between."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import selectors
from .models import (
    BenchmarkWeight,
    BondTerms,
    Broker,
    CashBalance,
    Event,
    Instrument,
    Mandate,
    Side,
    Trade,
    Trader,
    TradeVersion,
)
from .services.trading import AMENDABLE

# --- the event log -----------------------------------------------------------------------


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = [
            "id",
            "wall_time",
            "sim_time",
            "tick",
            "kind",
            "trade_id",
            "instrument",
            "mandate",
            "source",
            "actor",
            "payload",
        ]
        read_only_fields = fields


class TradeTraceSerializer(serializers.Serializer):
    trade_id = serializers.CharField()
    events = EventSerializer(many=True)


# --- reference data ----------------------------------------------------------------------


class BondTermsSerializer(serializers.ModelSerializer):
    class Meta:
        model = BondTerms
        fields = [
            "coupon_rate",
            "frequency",
            "day_count",
            "issue_date",
            "maturity_date",
            "face",
            "issuer",
            "rating",
        ]


class InstrumentSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency_id")
    base_currency = serializers.CharField(source="base_currency_id", allow_null=True)
    bond_terms = serializers.SerializerMethodField()

    class Meta:
        model = Instrument
        fields = [
            "ticker",
            "isin",
            "name",
            "asset_class",
            "currency",
            "base_currency",
            "sector",
            "country",
            "active",
            "bond_terms",
        ]

    @extend_schema_field(BondTermsSerializer(allow_null=True))
    def get_bond_terms(self, instrument: Instrument) -> dict[str, Any] | None:
        # The reverse one-to-one raises when absent; select_related has already fetched it.
        terms = getattr(instrument, "bond_terms", None) if instrument.is_bond else None
        return BondTermsSerializer(terms).data if terms is not None else None


class BenchmarkLineSerializer(serializers.ModelSerializer):
    instrument = serializers.CharField(source="instrument.ticker", allow_null=True, default=None)

    class Meta:
        model = BenchmarkWeight
        fields = ["instrument", "sector", "asset_class", "weight"]


class CashBalanceSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency_id")

    class Meta:
        model = CashBalance
        fields = ["currency", "settled", "projected"]


class CustodyAccountSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    custodian = serializers.CharField(source="custodian.code")
    custodian_name = serializers.CharField(source="custodian.name")


class MandateSerializer(serializers.ModelSerializer):
    base_currency = serializers.CharField(source="base_currency_id")
    custody_account = CustodyAccountSerializer()
    benchmark = BenchmarkLineSerializer(many=True)
    cash_balances = CashBalanceSerializer(many=True)

    class Meta:
        model = Mandate
        fields = [
            "code",
            "name",
            "base_currency",
            "strategy",
            "inception_date",
            "active",
            "units_outstanding",
            "management_fee_rate",
            "drift_band",
            "custody_account",
            "benchmark",
            "cash_balances",
        ]


# --- trades ------------------------------------------------------------------------------


class TradeSerializer(serializers.ModelSerializer):
    mandate = serializers.CharField(source="mandate.code")
    instrument = serializers.CharField(source="instrument.ticker")
    currency = serializers.CharField(source="currency_id")
    broker = serializers.CharField(source="broker.code")
    trader = serializers.CharField(source="trader.code")
    order_id = serializers.CharField(source="order.order_id", allow_null=True, default=None)
    execution_id = serializers.CharField(
        source="execution.execution_id", allow_null=True, default=None
    )

    class Meta:
        model = Trade
        fields = [
            "trade_id",
            "version",
            "status",
            "source",
            "mandate",
            "instrument",
            "side",
            "quantity",
            "price",
            "gross",
            "commission",
            "fees",
            "accrued_interest",
            "net",
            "currency",
            "trade_time",
            "trade_date",
            "settlement_date",
            "broker",
            "trader",
            "order_id",
            "execution_id",
            "tick",
            "booked_at",
        ]
        read_only_fields = fields


class TradeVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = TradeVersion
        fields = [
            "version",
            "status",
            "reason",
            "actor",
            "tick",
            "sim_time",
            "recorded_at",
            "terms",
        ]


class TradeDetailSerializer(TradeSerializer):
    versions = TradeVersionSerializer(many=True, read_only=True)
    events = serializers.SerializerMethodField()

    class Meta(TradeSerializer.Meta):
        fields = [*TradeSerializer.Meta.fields, "versions", "events"]
        read_only_fields = fields

    @extend_schema_field(EventSerializer(many=True))
    def get_events(self, trade: Trade) -> list[dict[str, Any]]:
        return EventSerializer(selectors.trade_trace(trade.trade_id), many=True).data


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that states its offset (`Z` or `+01:00`): a trade time without one
    is ambiguous, and is refused rather than guessed."""

    def to_internal_value(self, value: Any) -> dt.datetime:
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)

    default_error_messages = {
        **serializers.DateTimeField.default_error_messages,
        "naive": "must state its UTC offset, e.g. 2015-03-02T15:00:00Z",
    }


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=24, decimal_places=4, **kwargs)


def _by_code(queryset: Any, field: str, noun: str, **kwargs: Any) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field=field,
        queryset=queryset,
        error_messages={"does_not_exist": f"unknown {noun} {{value}}"},
        **kwargs,
    )


class TradeBookSerializer(serializers.Serializer):
    """A trade booked by hand. References by their codes; the service checks the rest
    (quantity and price positive, business day, settlement not before the trade date)."""

    mandate = _by_code(Mandate.objects.all(), "code", "mandate")
    instrument = _by_code(Instrument.objects.all(), "ticker", "instrument")
    side = serializers.ChoiceField(choices=Side.choices)
    quantity = serializers.DecimalField(max_digits=24, decimal_places=6)
    price = serializers.DecimalField(max_digits=24, decimal_places=8)
    trade_time = AwareDateTimeField(
        required=False,
        help_text="ISO 8601 with offset; sim time of the trade, not after the current sim time."
        " Default: the current sim time (the simulator clock's last tick)",
    )
    broker = _by_code(Broker.objects.all(), "code", "broker")
    trader = _by_code(Trader.objects.all(), "code", "trader")
    commission = _money(required=False, allow_null=True, help_text="Default: broker schedule")
    fees = _money(required=False)
    settlement_date = serializers.DateField(
        required=False, allow_null=True, help_text="Default: the settlement cycle"
    )

    def service_fields(self, now: selectors.SimNow) -> dict[str, Any]:
        """The validated input as `book.services.trade_book` takes it, booked at the sim
        time and tick `now` (the service refuses a trade time after it)."""
        data = self.validated_data
        trade_time = data.get("trade_time") or now.sim_time
        if trade_time is None:
            raise serializers.ValidationError(
                {
                    "trade_time": [
                        "required: the simulator clock has not run a tick yet, so there is "
                        "no current sim time to book at"
                    ]
                }
            )
        fields: dict[str, Any] = {
            "mandate_id": data["mandate"].pk,
            "instrument_id": data["instrument"].pk,
            "broker_id": data["broker"].pk,
            "trader_id": data["trader"].pk,
            "side": data["side"],
            "quantity": data["quantity"],
            "price": data["price"],
            "trade_time": trade_time,
            "commission": data.get("commission"),
            "settlement_date": data.get("settlement_date"),
            "source": "manual",
            "tick": now.tick,
            "sim_time": now.sim_time,
        }
        if data.get("fees") is not None:
            fields["fees"] = data["fees"]
        return fields


class TradeCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class TradeAmendSerializer(serializers.Serializer):
    """New terms, only those that change, and why. Other fields cannot be amended: a wrong
    side, instrument or mandate is a cancel and a new booking."""

    quantity = serializers.DecimalField(max_digits=24, decimal_places=6, required=False)
    price = serializers.DecimalField(max_digits=24, decimal_places=8, required=False)
    commission = _money(required=False)
    fees = _money(required=False)
    settlement_date = serializers.DateField(required=False)
    trade_time = AwareDateTimeField(required=False)
    reason = serializers.CharField(max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            allowed = ", ".join(AMENDABLE)
            raise serializers.ValidationError(
                {name: [f"cannot be amended; amendable: {allowed}"] for name in unknown}
            )
        if not set(attrs) & set(AMENDABLE):
            raise serializers.ValidationError(
                {"non_field_errors": [f"nothing to amend: give one of {', '.join(AMENDABLE)}"]}
            )
        return attrs

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.validated_data.items() if k in AMENDABLE}


# --- positions ---------------------------------------------------------------------------


class PositionQuerySerializer(serializers.Serializer):
    """The query of GET /api/book/positions."""

    mandate = _by_code(Mandate.objects.all(), "code", "mandate", required=False)
    as_of = serializers.DateField(
        required=False, help_text="Replay quantities from trades up to this trade date"
    )


class PositionSerializer(serializers.Serializer):
    """A position (stored, or replayed as of a date): rows come from the selectors as dicts."""

    mandate = serializers.CharField(source="mandate_code")
    instrument = serializers.CharField(source="ticker")
    instrument_name = serializers.CharField()
    asset_class = serializers.CharField()
    currency = serializers.CharField(source="currency_code")
    quantity = serializers.DecimalField(max_digits=24, decimal_places=6)
    cost_basis = _money(allow_null=True, default=None)
    realized_pnl = _money(allow_null=True, default=None)
    updated_tick = serializers.IntegerField(allow_null=True, default=None)
    price = serializers.DecimalField(max_digits=24, decimal_places=8, allow_null=True)
    price_tick = serializers.IntegerField(allow_null=True)
    price_time = serializers.DateTimeField(allow_null=True)
    market_value = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_market_value(self, row: dict[str, Any]) -> str | None:
        value = selectors.market_value(row)
        return None if value is None else str(value)
