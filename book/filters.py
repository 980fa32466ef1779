import django_filters

from . import events
from .models import Event


class EventFilter(django_filters.FilterSet):
    trade_id = django_filters.CharFilter()
    kind = django_filters.ChoiceFilter(choices=events.kind_choices)
    source = django_filters.ChoiceFilter(choices=events.Source.choices)
    mandate = django_filters.CharFilter()
    instrument = django_filters.CharFilter()
    tick = django_filters.NumberFilter()
    since = django_filters.IsoDateTimeFilter(
        field_name="wall_time", lookup_expr="gte", label="Recorded at or after (ISO 8601)"
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="wall_time", lookup_expr="lt", label="Recorded before (ISO 8601)"
    )
    after_id = django_filters.NumberFilter(
        field_name="id", lookup_expr="gt", label="Only events with a larger id (polling)"
    )

    class Meta:
        model = Event
        fields: list[str] = []
