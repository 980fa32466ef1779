"""The event kinds the ledger writes to the shared event log."""

from book.events import kind_register

JOURNALS_POSTED = kind_register("journal.posted", "Journal entries were posted to the ledger")
PERIOD_CLOSED = kind_register("period.closed", "A ledger period was closed")
