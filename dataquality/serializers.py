"""Data quality API serializers: workflow requests, rule changes and queries in; the
summary, alerts (with their inputs, window and history), rules, runs, the NAV gate and
late alerts out."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from book.models import Mandate
from opssuite import roles

from . import queries
from .models import Alert, AlertAction, CheckResult, CheckRun, DQRule, Severity

MAX_SNOOZE_TICKS = 26 * 20  # the service's limit: 20 sessions of 15-minute ticks


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that states its offset (a time without one is ambiguous). A `+`
    that a query string turned into a space (`...T15:00:00 00:00`) is read as the `+`."""

    default_error_messages = {
        **serializers.DateTimeField.default_error_messages,
        "naive": "must state its UTC offset, e.g. 2015-01-05T15:00:00Z",
    }

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            value = re.sub(r" (\d{2}:?\d{2})$", r"+\1", value.strip())
            parsed = parse_datetime(value)
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


def _mandate(**kwargs: Any) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="code",
        queryset=Mandate.objects.select_related("custody_account"),
        error_messages={"does_not_exist": "unknown mandate {value}"},
        help_text="Mandate code",
        **kwargs,
    )


# --- alerts ------------------------------------------------------------------------------


class AlertSerializer(serializers.ModelSerializer):
    """One row of the queue."""

    entity = serializers.SerializerMethodField(help_text="entity_kind:entity_key")
    instrument = serializers.CharField(source="instrument.ticker", allow_null=True, default=None)
    mandate = serializers.CharField(source="mandate.code", allow_null=True, default=None)
    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)

    class Meta:
        model = Alert
        fields = [
            "alert_id",
            "rule",
            "rule_version",
            "severity",
            "status",
            "entity",
            "entity_kind",
            "entity_key",
            "source",
            "asset_class",
            "instrument",
            "mandate",
            "value",
            "value_source",
            "reference",
            "reference_source",
            "tolerance",
            "measured",
            "unit",
            "message",
            "first_seen_tick",
            "last_seen_tick",
            "times_seen",
            "window_start",
            "window_end",
            "raised_sim_time",
            "resolved_tick",
            "snoozed_until_tick",
            "assignee",
        ]
        read_only_fields = fields

    def get_entity(self, alert: Alert) -> str:
        return f"{alert.entity_kind}:{alert.entity_key}"


class AlertActionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertAction
        fields = ["kind", "actor", "at", "tick", "note"]
        read_only_fields = fields


class AlertWindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Sim time the condition was first seen")
    end = serializers.DateTimeField(
        allow_null=True, help_text="Sim time it cleared or was resolved; null while it lasts"
    )
    first_seen_tick = serializers.IntegerField()
    last_seen_tick = serializers.IntegerField()


class AlertDetailSerializer(AlertSerializer):
    """One alert: both sources' values, the tolerance and the measure, the inputs it
    touches, the window of data it covers, and everything that happened to it."""

    inputs = serializers.SerializerMethodField(help_text="The input keys the NAV gate joins on")
    window = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    class Meta(AlertSerializer.Meta):
        fields = [
            *AlertSerializer.Meta.fields,
            "detail",
            "inputs",
            "window",
            "raised_at",
            "resolved_sim_time",
            "resolution",
            "history",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_inputs(self, alert: Alert) -> list[str]:
        rows = sorted(row.key for row in alert.input_rows.all())
        return rows or list(alert.inputs or [])

    @extend_schema_field(AlertWindowSerializer)
    def get_window(self, alert: Alert) -> dict[str, Any]:
        return AlertWindowSerializer(
            {
                "start": alert.window_start,
                "end": alert.window_end,
                "first_seen_tick": alert.first_seen_tick,
                "last_seen_tick": alert.last_seen_tick,
            }
        ).data

    @extend_schema_field(AlertActionSerializer(many=True))
    def get_history(self, alert: Alert) -> list[dict[str, Any]]:
        return AlertActionSerializer(queries.alert_history(alert), many=True).data


# --- workflow requests -------------------------------------------------------------------


class _Worker(serializers.SlugRelatedField):
    """A username of someone who may work the queue (operator or admin)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            slug_field="username",
            queryset=get_user_model().objects.filter(is_active=True),
            error_messages={"does_not_exist": "unknown user {value}"},
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> Any:
        user = super().to_internal_value(data)
        if not roles.user_has_role(user, roles.OPERATOR):
            raise serializers.ValidationError(
                f"{user.get_username()} cannot work alerts (needs the operator role)"
            )
        return user


def _note(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        max_length=4000, required=False, allow_blank=True, default="", **kwargs
    )


class AlertAcknowledgeSerializer(serializers.Serializer):
    note = _note()


class AlertSnoozeSerializer(serializers.Serializer):
    ticks = serializers.IntegerField(
        min_value=1,
        max_value=MAX_SNOOZE_TICKS,
        help_text="Quiet for this many ticks; the alert reopens then if the condition lasts",
    )
    note = _note()


class AlertAssignSerializer(serializers.Serializer):
    assignee = _Worker(allow_null=True, help_text="Username (operator or admin); null unassigns")


class AlertCommentSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=4000)


class AlertResolveSerializer(serializers.Serializer):
    note = _note(help_text="Why; kept on the alert's resolution and in its history")


ACTION_INPUTS: dict[str, type[serializers.Serializer]] = {
    "acknowledge": AlertAcknowledgeSerializer,
    "snooze": AlertSnoozeSerializer,
    "assign": AlertAssignSerializer,
    "comment": AlertCommentSerializer,
    "resolve": AlertResolveSerializer,
}


class AlertBulkActionSerializer(serializers.Serializer):
    """One action on several alerts, in one transaction: all of them change or none."""

    action = serializers.ChoiceField(choices=list(ACTION_INPUTS))
    alert_ids = serializers.ListField(
        child=serializers.CharField(max_length=16), allow_empty=False, max_length=1000
    )
    ticks = serializers.IntegerField(required=False, help_text="snooze")
    assignee = _Worker(required=False, allow_null=True, help_text="assign")
    text = serializers.CharField(max_length=4000, required=False, help_text="comment")
    note = _note(help_text="acknowledge, snooze, resolve")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The action's own serializer says which of the fields it needs.
        given = {k: v for k, v in self.initial_data.items() if k not in ("action", "alert_ids")}
        params = ACTION_INPUTS[attrs["action"]](data=given)
        params.is_valid(raise_exception=True)
        attrs["params"] = dict(params.validated_data)
        attrs["alert_ids"] = list(dict.fromkeys(attrs["alert_ids"]))  # each once, in order
        return attrs


class AlertBulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    count = serializers.IntegerField()
    alerts = AlertSerializer(many=True)


# --- rules -------------------------------------------------------------------------------


class RuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = DQRule
        fields = [
            "id",
            "code",
            "asset_class",
            "version",
            "severity",
            "params",
            "enabled",
            "description",
            "updated_at",
            "updated_by",
        ]
        read_only_fields = fields


class RuleUpdateSerializer(serializers.Serializer):
    """A change to a rule: the params given are laid over the rule's own (the others are
    kept), each checked against the engine's params (name and kind of value); the rule's
    version goes up by one and new alerts name it. The view passes the rule in the
    context as `rule`."""

    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    params = serializers.DictField(required=False, help_text="Params to set (merged)")
    enabled = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: ["not a field of a rule change (severity, params, enabled)"]
                    for name in unknown
                }
            )
        if not attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["change at least one of severity, params, enabled"]}
            )
        rule = self.context.get("rule")
        if rule is not None and "params" in attrs:
            problems = queries.params_errors(rule.code, attrs["params"])
            if problems:
                raise serializers.ValidationError({"params": problems})
        return attrs


# --- runs --------------------------------------------------------------------------------


class CheckRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckRun
        fields = [
            "tick",
            "sim_time",
            "started_at",
            "duration_ms",
            "instruments",
            "findings",
            "opened",
            "resolved",
            "summary",
        ]
        read_only_fields = fields


class CheckResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckResult
        fields = ["rule", "source", "evaluated", "failed"]
        read_only_fields = fields


class CheckRunDetailSerializer(CheckRunSerializer):
    """A run with each rule's outcome per source, passes included."""

    results = CheckResultSerializer(many=True)

    class Meta(CheckRunSerializer.Meta):
        fields = [*CheckRunSerializer.Meta.fields, "results"]
        read_only_fields = fields


class TrendQuery(serializers.Serializer):
    rule = serializers.ChoiceField(choices=list(queries.RULE_CODES))
    ticks = serializers.IntegerField(
        min_value=1, max_value=26 * 250, default=260, help_text="How many ticks back"
    )


class TrendPointSerializer(serializers.Serializer):
    tick = serializers.IntegerField()
    evaluated = serializers.IntegerField()
    failed = serializers.IntegerField()


class TrendSerializer(serializers.Serializer):
    rule = serializers.CharField()
    ticks = serializers.IntegerField()
    points = TrendPointSerializer(many=True)


# --- gate and late alerts ----------------------------------------------------------------


class GateQuery(serializers.Serializer):
    mandate = _mandate()
    at = AwareDateTimeField(
        required=False,
        help_text="ISO 8601 with offset: the NAV time; default the clock's last tick",
    )


class GateAlertSerializer(serializers.Serializer):
    alert_id = serializers.CharField()
    rule = serializers.CharField()
    severity = serializers.CharField()
    entity = serializers.CharField()
    source = serializers.CharField()
    message = serializers.CharField()
    raised_sim_time = serializers.DateTimeField()


class GateSerializer(serializers.Serializer):
    mandate = serializers.CharField()
    at = serializers.DateTimeField()
    publish = serializers.BooleanField(
        help_text="false while a critical alert on one of the mandate's inputs covers `at`"
    )
    inputs_checked = serializers.IntegerField(help_text="The mandate's input keys")
    blocking = GateAlertSerializer(many=True)


class LateAlertsQuery(serializers.Serializer):
    mandate = _mandate()
    at = AwareDateTimeField(help_text="ISO 8601 with offset: the NAV time the report is for")
    after = AwareDateTimeField(
        help_text="ISO 8601 with offset: when the report was published (sim time)"
    )
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)


class LateAlertsSerializer(serializers.Serializer):
    mandate = serializers.CharField()
    at = serializers.DateTimeField()
    after = serializers.DateTimeField()
    count = serializers.IntegerField()
    alerts = AlertSerializer(many=True)


# --- the summary -------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.OBJECT)
class _Counts(serializers.DictField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.IntegerField(), **kwargs)


class HeatCellSerializer(serializers.Serializer):
    evaluated = serializers.IntegerField()
    failed = serializers.IntegerField()


class DQSummarySerializer(serializers.Serializer):
    open = serializers.IntegerField(help_text="Active alerts (open, acknowledged, snoozed)")
    by_severity = _Counts()
    by_rule = _Counts()
    by_source = _Counts(help_text="Source at fault (- for none: the sources disagree)")
    health = serializers.DictField(
        child=serializers.FloatField(),
        help_text="Per source, 0-100: share of evaluations that passed over the recent runs, "
        "less a penalty per active alert (5 a critical, 1 a warning)",
    )
    heat_map = serializers.DictField(
        child=serializers.DictField(child=HeatCellSerializer()),
        help_text="source -> rule -> evaluated and failed over the recent runs",
    )
    last_run = CheckRunSerializer(allow_null=True)
    rules = serializers.IntegerField(help_text="Rules configured")
