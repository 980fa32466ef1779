"""Reads of the book for pages and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Event


def event_list() -> QuerySet[Event]:
    return Event.objects.all().order_by("-id")


def trade_trace(trade_id: str) -> list[Event]:
    """Every event of one trade, in the order it happened."""
    return list(Event.objects.filter(trade_id=trade_id).order_by("id"))
