"""Query filters of the break queue and the run history, shared by GET /api/recon/breaks,
GET /api/recon/runs and the Recon pages. A bad value (an unknown break type, mandate code,
age bucket or user) is a 400 naming the parameter, never an empty list that reads as
"nothing there".

The filters only validate: `recon.selectors.break_list` / `run_list` apply them, so the
API, the pages and the selector answer the same question the same way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from book.filters import by_code
from book.models import Mandate

from . import selectors
from .models import (
    AGE_BUCKETS,
    Break,
    BreakStatus,
    BreakType,
    Classification,
    ReconKind,
    ReconRun,
    RunSource,
)

YES_NO = [("true", "yes"), ("false", "no")]


class BreakFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=BreakType.choices, label="Break type")
    status = django_filters.ChoiceFilter(choices=BreakStatus.choices)
    mandate = by_code(Mandate.objects.all(), "code", "mandate")
    age = django_filters.ChoiceFilter(
        choices=[(b, b) for b in AGE_BUCKETS],
        label="Age bucket in business days since first seen (0-1, 2-3, 4-5, 6-10, >10)",
    )
    trade_id = django_filters.CharFilter(
        label="Trade id (or the file's / broker's trade id): the breaks touching it"
    )
    recon = django_filters.ChoiceFilter(choices=ReconKind.choices, label="Which recon")
    classification = django_filters.ChoiceFilter(choices=Classification.choices)
    assignee = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.all(),
        to_field_name="username",
        label="Assigned to (username)",
        error_messages={"invalid_choice": "unknown user %(value)s"},
    )
    escalated = django_filters.ChoiceFilter(choices=YES_NO, label="Escalated (true/false)")

    class Meta:
        model = Break
        fields: list[str] = []

    def __init__(self, *args: Any, on: dt.date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on = on

    def filter_queryset(self, queryset: QuerySet) -> QuerySet[Break]:
        data = self.form.cleaned_data
        escalated = data.get("escalated")
        return selectors.break_list(
            break_type=data.get("type") or None,
            status=data.get("status") or None,
            mandate=data["mandate"].code if data.get("mandate") else None,
            age=data.get("age") or None,
            trade_id=(data.get("trade_id") or "").strip() or None,
            recon=data.get("recon") or None,
            classification=data.get("classification") or None,
            assignee=data["assignee"].get_username() if data.get("assignee") else None,
            escalated=None if not escalated else escalated == "true",
            # Only an age bucket needs "today" (the sim date, one read of the clock).
            on=(self.on or selectors.today()) if data.get("age") else None,
        )


class RunFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ReconKind.choices)
    source = django_filters.ChoiceFilter(choices=RunSource.choices)

    class Meta:
        model = ReconRun
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet[ReconRun]:
        data = self.form.cleaned_data
        return selectors.run_list(kind=data.get("kind") or None, source=data.get("source") or None)
