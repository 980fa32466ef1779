"""Every write to the book. Import from here: `from book.services import trade_book`."""

from .events import event_record
from .reference import UniverseLoadSummary, universe_load

__all__ = ["UniverseLoadSummary", "event_record", "universe_load"]
