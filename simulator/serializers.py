"""Market API serializers (output only: the market is written by the simulator alone)."""

from __future__ import annotations

from rest_framework import serializers

from opssuite.api.serializers import ClockSerializer

from .models import Price


class MacroInputSerializer(serializers.Serializer):
    input = serializers.CharField(help_text="Group in the snapshot: vix, index, curve, credit, fx")
    name = serializers.CharField()
    series = serializers.CharField(allow_null=True, help_text="FRED series id")
    date = serializers.DateField(allow_null=True, help_text="Date of the observation used")
    value = serializers.FloatField(allow_null=True)
    source = serializers.CharField(help_text="fredapi, csv, offline, or default")
    unit = serializers.CharField(help_text="percent, index, rate (FX) or fraction")


class CurvePointSerializer(serializers.Serializer):
    tenor = serializers.FloatField(help_text="Years")
    label = serializers.CharField()
    par_yield = serializers.FloatField(help_text="Fraction (0.0217 = 2.17%)")


class FxQuoteSerializer(serializers.Serializer):
    rate = serializers.DecimalField(max_digits=20, decimal_places=10, allow_null=True)
    tick = serializers.IntegerField(allow_null=True)


class FxLineSerializer(serializers.Serializer):
    pair = serializers.CharField()
    quotes = serializers.SerializerMethodField()
    difference_bp = serializers.FloatField(
        allow_null=True, help_text="Secondary less primary, bp of primary"
    )
    fixing = MacroInputSerializer(allow_null=True)

    def get_quotes(self, line) -> dict[str, dict]:  # type: ignore[no-untyped-def]
        return {
            "primary": FxQuoteSerializer({"rate": line.primary, "tick": line.primary_tick}).data,
            "secondary": FxQuoteSerializer(
                {"rate": line.secondary, "tick": line.secondary_tick}
            ).data,
        }


class MarketContextSerializer(serializers.Serializer):
    clock = ClockSerializer()
    tick = serializers.IntegerField(allow_null=True, help_text="Tick of the latest snapshot")
    sim_time = serializers.DateTimeField(allow_null=True)
    sim_date = serializers.DateField(allow_null=True)
    regime = serializers.CharField(allow_null=True)
    vix = serializers.DecimalField(max_digits=10, decimal_places=4, allow_null=True)
    market_return = serializers.FloatField(allow_null=True, help_text="Market factor, this tick")
    credit_spread = serializers.FloatField(allow_null=True, help_text="BAA-AAA, fraction")
    curve_source = serializers.CharField(allow_null=True)
    macro = MacroInputSerializer(many=True)
    curve = CurvePointSerializer(many=True)
    fx = FxLineSerializer(many=True)


class PriceSerializer(serializers.ModelSerializer):
    instrument = serializers.CharField(source="instrument.ticker")

    class Meta:
        model = Price
        fields = ["tick", "sim_time", "instrument", "vendor", "price"]
        read_only_fields = fields
