"""Recon API serializers: workflow requests and file uploads in; the summary, breaks (with
their age, both sides and history) and runs out.

A break's age is in business days since it was first seen, to today in sim time (to its
resolution, once resolved); the view passes that day in the context as `on`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from opssuite import roles

from . import selectors
from .models import (
    AGE_BUCKETS,
    Break,
    BreakAction,
    ReasonCode,
    ReconRun,
    age_bucket,
)

RUN_DETAIL_ROWS = 1000  # breaks and rejects listed in a run's JSON; the CSV has them all


def _on(serializer: serializers.Serializer) -> dt.date:
    on = serializer.context.get("on")
    if on is None:
        on = serializer.context["on"] = selectors.today()
    return on


# --- breaks ------------------------------------------------------------------------------


class BreakSerializer(serializers.ModelSerializer):
    """One row of the queue."""

    mandate = serializers.CharField(source="mandate.code", allow_null=True, default=None)
    custody_account = serializers.CharField(
        source="custody_account.code", allow_null=True, default=None
    )
    instrument = serializers.CharField(source="instrument.ticker", allow_null=True, default=None)
    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)
    age = serializers.SerializerMethodField(help_text="Business days open (to resolution)")
    age_bucket = serializers.SerializerMethodField()

    class Meta:
        model = Break
        fields = [
            "break_id",
            "recon",
            "source",
            "break_type",
            "classification",
            "status",
            "mandate",
            "custody_account",
            "instrument",
            "reported_id",
            "currency",
            "trade_id",
            "match_key",
            "trade_ids",
            "field",
            "internal_value",
            "external_value",
            "difference",
            "explanation",
            "first_seen_date",
            "last_seen_date",
            "times_seen",
            "age",
            "age_bucket",
            "assignee",
            "reason_code",
            "escalated",
            "resolved_date",
            "resolution",
        ]
        read_only_fields = fields

    def get_age(self, brk: Break) -> int:
        return selectors.break_age(brk, _on(self))

    @extend_schema_field(serializers.ChoiceField(choices=list(AGE_BUCKETS)))
    def get_age_bucket(self, brk: Break) -> str:
        return age_bucket(selectors.break_age(brk, _on(self)))


class BreakActionSerializer(serializers.ModelSerializer):
    run = serializers.CharField(source="run.run_id", allow_null=True, default=None)

    class Meta:
        model = BreakAction
        fields = ["kind", "actor", "at", "sim_time", "run", "note", "data"]
        read_only_fields = fields


class BreakDetailSerializer(BreakSerializer):
    """One break: both sides and the difference, what explains it, what it touches, and
    everything that happened to it."""

    first_run = serializers.CharField(source="first_run.run_id")
    last_run = serializers.CharField(source="last_run.run_id")
    history = serializers.SerializerMethodField()

    class Meta(BreakSerializer.Meta):
        fields = [
            *BreakSerializer.Meta.fields,
            "detail",
            "candidates",
            "first_run",
            "last_run",
            "first_seen_tick",
            "last_seen_tick",
            "updated_at",
            "history",
        ]
        read_only_fields = fields

    @extend_schema_field(BreakActionSerializer(many=True))
    def get_history(self, brk: Break) -> list[dict[str, Any]]:
        from .queries import break_history

        return BreakActionSerializer(break_history(brk), many=True).data


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
                f"{user.get_username()} cannot work breaks (needs the operator role)"
            )
        return user


def _note(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        max_length=4000, required=False, allow_blank=True, default="", **kwargs
    )


class AssignSerializer(serializers.Serializer):
    assignee = _Worker(allow_null=True, help_text="Username (operator or admin); null unassigns")


class CommentSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=4000)


class ReasonSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=ReasonCode.choices)


class ResolveSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=ReasonCode.choices)
    note = _note(help_text="Why; kept on the break's resolution and in its history")


class NoteSerializer(serializers.Serializer):
    note = _note()


ACTION_INPUTS: dict[str, type[serializers.Serializer]] = {
    "assign": AssignSerializer,
    "comment": CommentSerializer,
    "reason": ReasonSerializer,
    "resolve": ResolveSerializer,
    "escalate": NoteSerializer,
    "reopen": NoteSerializer,
}


class BulkActionSerializer(serializers.Serializer):
    """One action on several breaks, in one transaction: all of them change or none."""

    action = serializers.ChoiceField(choices=list(ACTION_INPUTS))
    break_ids = serializers.ListField(
        child=serializers.CharField(max_length=16), allow_empty=False, max_length=1000
    )
    assignee = _Worker(required=False, allow_null=True, help_text="assign")
    text = serializers.CharField(max_length=4000, required=False, help_text="comment")
    reason_code = serializers.ChoiceField(
        choices=ReasonCode.choices, required=False, help_text="reason, resolve"
    )
    note = _note(help_text="resolve, escalate, reopen")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The action's own serializer says which of the fields it needs.
        given = {k: v for k, v in self.initial_data.items() if k not in ("action", "break_ids")}
        params = ACTION_INPUTS[attrs["action"]](data=given)
        params.is_valid(raise_exception=True)
        attrs["params"] = dict(params.validated_data)
        attrs["break_ids"] = list(dict.fromkeys(attrs["break_ids"]))  # each once, in order
        return attrs


class BulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    count = serializers.IntegerField()
    breaks = BreakSerializer(many=True)


# --- runs --------------------------------------------------------------------------------


class RejectSerializer(serializers.Serializer):
    file = serializers.CharField()
    line = serializers.IntegerField()
    reason = serializers.CharField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        if isinstance(instance, list | tuple):
            instance = dict(zip(("file", "line", "reason"), instance, strict=False))
        return super().to_representation(instance)


class RunSerializer(serializers.ModelSerializer):
    mandate = serializers.CharField(source="mandate.code", allow_null=True, default=None)
    custody_account = serializers.CharField(
        source="custody_account.code", allow_null=True, default=None
    )
    statement = serializers.CharField(
        source="statement.statement_id", allow_null=True, default=None
    )
    breaks_found = serializers.SerializerMethodField(help_text="Breaks this run found")
    rejects_count = serializers.SerializerMethodField(help_text="File rows left out")

    class Meta:
        model = ReconRun
        fields = [
            "run_id",
            "kind",
            "source",
            "status",
            "mandate",
            "custody_account",
            "statement",
            "as_of",
            "tick",
            "sim_time",
            "started_at",
            "duration_ms",
            "actor",
            "files",
            "breaks_found",
            "rejects_count",
            "summary",
        ]
        read_only_fields = fields

    def get_breaks_found(self, run: ReconRun) -> int:
        return sum((run.summary or {}).get("breaks_by_type", {}).values())

    def get_rejects_count(self, run: ReconRun) -> int:
        return len(run.rejects or [])


class RunDetailSerializer(RunSerializer):
    """A run with its rules, its rejects and the breaks it found (the first
    RUN_DETAIL_ROWS of each here; breaks.csv has every break)."""

    rules = serializers.JSONField()
    rejects = serializers.SerializerMethodField()
    breaks = serializers.SerializerMethodField()
    breaks_truncated = serializers.SerializerMethodField()
    rejects_truncated = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = [
            *RunSerializer.Meta.fields,
            "rules",
            "rejects",
            "rejects_truncated",
            "breaks",
            "breaks_truncated",
        ]
        read_only_fields = fields

    def _breaks(self, run: ReconRun) -> list[Break]:
        cache = self.context.setdefault("_run_breaks", {})
        if run.pk not in cache:
            cache[run.pk] = list(
                selectors.run_breaks(run).select_related("assignee", "custody_account")[
                    : RUN_DETAIL_ROWS + 1
                ]
            )
        return cache[run.pk]

    @extend_schema_field(RejectSerializer(many=True))
    def get_rejects(self, run: ReconRun) -> list[dict[str, Any]]:
        return RejectSerializer((run.rejects or [])[:RUN_DETAIL_ROWS], many=True).data

    def get_rejects_truncated(self, run: ReconRun) -> bool:
        return len(run.rejects or []) > RUN_DETAIL_ROWS

    @extend_schema_field(BreakSerializer(many=True))
    def get_breaks(self, run: ReconRun) -> list[dict[str, Any]]:
        rows = self._breaks(run)[:RUN_DETAIL_ROWS]
        return BreakSerializer(rows, many=True, context=self.context).data

    def get_breaks_truncated(self, run: ReconRun) -> bool:
        return len(self._breaks(run)) > RUN_DETAIL_ROWS


class RunUploadSerializer(serializers.Serializer):
    """Trade recon of files in the TradeRecon format. Tolerances not given are the recon
    settings' (admin)."""

    executions = serializers.FileField(
        help_text="executions.csv: trade_id,ticker,quantity,price,timestamp"
    )
    confirmations = serializers.FileField(
        help_text="broker_confirmations.csv: trade_id,ticker,quantity,price,timestamp"
    )
    pnl = serializers.FileField(
        required=False, help_text="pnl_snapshot.csv: trade_id,pnl_impact,commission"
    )
    price_tolerance = serializers.DecimalField(
        max_digits=12, decimal_places=6, min_value=0, required=False
    )
    time_tolerance_ms = serializers.IntegerField(min_value=0, max_value=86_400_000, required=False)
    pnl_tolerance = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=0, required=False
    )


# --- the summary -------------------------------------------------------------------------


class RunTotalsSerializer(serializers.Serializer):
    matched = serializers.IntegerField()
    breaks = serializers.IntegerField()


@extend_schema_field(OpenApiTypes.OBJECT)
class _Counts(serializers.DictField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.IntegerField(), **kwargs)


class ReconSummarySerializer(serializers.Serializer):
    as_of = serializers.DateField(help_text="The day ages are counted to (sim date)")
    open = serializers.IntegerField(help_text="Open breaks")
    escalated = serializers.IntegerField(help_text="Open breaks escalated")
    by_type = _Counts()
    by_age_bucket = _Counts(help_text="0-1, 2-3, 4-5, 6-10, >10 business days")
    by_type_and_age = serializers.DictField(child=_Counts())
    by_mandate = _Counts(help_text="Mandate code (- for none, e.g. file runs)")
    by_classification = _Counts()
    last_runs = RunSerializer(many=True)
    recent_runs_totals = serializers.DictField(
        child=RunTotalsSerializer(),
        help_text="Matched items and breaks found over the last 200 runs, by recon",
    )
