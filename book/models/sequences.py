"""Counters behind the readable ids (T-000123, O-..., X-..., J-...)."""

from django.db import models


class IdSequence(models.Model):
    """The last number handed out for one id prefix; taken under a row lock."""

    prefix = models.CharField(max_length=4, primary_key=True)
    last = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}-{self.last:06d}"
