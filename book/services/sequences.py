"""Readable ids, handed out without gaps or duplicates even with several workers."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from ..identifiers import readable_id
from ..models import IdSequence


def ids_next(prefix: str, count: int = 1) -> list[str]:
    """`count` new ids for `prefix`, e.g. ids_next("T", 2) -> ["T-000041", "T-000042"].

    The UPDATE takes the sequence row's lock until the caller's transaction ends, so two
    workers can never get the same number; a rolled-back transaction gives its numbers back.
    """
    if count < 1:
        return []
    with transaction.atomic():
        IdSequence.objects.get_or_create(prefix=prefix)
        IdSequence.objects.filter(prefix=prefix).update(last=F("last") + count)
        last = IdSequence.objects.values_list("last", flat=True).get(prefix=prefix)
    return [readable_id(prefix, number) for number in range(last - count + 1, last + 1)]
