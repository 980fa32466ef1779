from rest_framework import serializers

from simulator.models import Tick


class ClockSerializer(serializers.Serializer):
    last_tick = serializers.IntegerField()
    sim_time = serializers.DateTimeField(allow_null=True)
    last_tick_at = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.FloatField(allow_null=True)
    running = serializers.BooleanField()
    tick_minutes = serializers.IntegerField()
    start_date = serializers.DateField()


class ClockActionSerializer(serializers.Serializer):
    running = serializers.BooleanField(help_text="false pauses the clock, true resumes it")


class TickSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tick
        fields = [
            "number",
            "sim_time",
            "status",
            "claimed_by",
            "claimed_at",
            "finished_at",
            "attempts",
            "steps",
            "error",
        ]


class ModuleSerializer(serializers.Serializer):
    slug = serializers.CharField()
    label = serializers.CharField()
    app = serializers.CharField()
    summary = serializers.CharField()
    placeholder = serializers.BooleanField()
    in_tick_pipeline = serializers.BooleanField()


class EventTotalsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    last_id = serializers.IntegerField(allow_null=True)
    last_kind = serializers.CharField(allow_null=True)


class OverviewSerializer(serializers.Serializer):
    clock = ClockSerializer()
    recent_ticks = TickSerializer(many=True)
    events = EventTotalsSerializer()
    modules = ModuleSerializer(many=True)


class HealthCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.FloatField()
    error = serializers.CharField(required=False)


class HealthTickSerializer(serializers.Serializer):
    last_id = serializers.IntegerField()
    sim_time = serializers.DateTimeField(allow_null=True)
    last_tick_at = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.FloatField(allow_null=True)
    running = serializers.BooleanField()


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    version = serializers.CharField()
    mode = serializers.ChoiceField(choices=["embedded", "stack"])
    database = HealthCheckSerializer()
    broker = HealthCheckSerializer(allow_null=True)
    tick = HealthTickSerializer(allow_null=True)
