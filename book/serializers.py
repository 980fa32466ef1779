from rest_framework import serializers

from .models import Event


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
