"""The book of record. For now: the event log every module appends to."""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from ..events import Source


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an append-only record."""


class EventQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("the event log is append-only: events cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("the event log is append-only: events cannot be deleted")

    def bulk_update(self, objs: Any, fields: Any, batch_size: Any = None) -> NoReturn:
        raise AppendOnlyError("the event log is append-only: events cannot be updated")

    # _raw_delete is Django's path for cascades.
    def _raw_delete(self, using: Any) -> NoReturn:
        raise AppendOnlyError("the event log is append-only: events cannot be deleted")


class Event(models.Model):
    """One thing that happened, to a trade or the system, as it happened: never edited."""

    wall_time = models.DateTimeField(default=timezone.now, db_index=True)
    sim_time = models.DateTimeField(null=True, blank=True)
    tick = models.BigIntegerField(null=True, blank=True, db_index=True)
    kind = models.CharField(max_length=64, db_index=True)
    # NULL, not "": an event about no trade is not an event about a trade with an empty id.
    trade_id = models.CharField(max_length=32, null=True, blank=True, db_index=True)  # noqa: DJ001
    instrument = models.CharField(max_length=64, blank=True, default="")
    mandate = models.CharField(max_length=32, blank=True, default="", db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    # Who did it: a username, or "system". No foreign key: deleting a user must not
    # rewrite (or be blocked by) history.
    actor = models.CharField(max_length=150, default="system")
    actor_user_id = models.IntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["trade_id", "id"], name="book_event_trade_order")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(kind=""), name="book_event_kind_set"),
        ]

    def __str__(self) -> str:
        target = f" {self.trade_id}" if self.trade_id else ""
        return f"#{self.pk} {self.kind}{target}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("the event log is append-only: events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("the event log is append-only: events cannot be deleted")
