"""Signing in and out goes to the event log: who, and when (Django's auth signals)."""

from __future__ import annotations

from typing import Any

from book import events
from book.services import event_record


def _client_address(request: Any) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def user_signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    event_record(
        kind=events.USER_SIGNED_IN,
        source=events.Source.PLATFORM,
        actor=user,
        payload={"address": _client_address(request)},
    )


def user_signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    event_record(
        kind=events.USER_SIGNED_OUT,
        source=events.Source.PLATFORM,
        actor=user,
        payload={"address": _client_address(request)},
    )
