"""The event kinds recon writes to the shared event log."""

from book.events import kind_register

RUN_COMPLETED = kind_register("recon.run_completed", "A reconciliation run completed")
BREAK_OPENED = kind_register("recon.break_opened", "A recon break was opened")
BREAK_CLEARED = kind_register("recon.break_cleared", "A recon break cleared at a later run")
BREAK_REOPENED = kind_register("recon.break_reopened", "A resolved recon break was found again")
BREAK_ASSIGNED = kind_register("recon.break_assigned", "A recon break was assigned")
BREAK_COMMENTED = kind_register("recon.break_commented", "A comment was added to a recon break")
BREAK_REASON = kind_register("recon.break_reason", "A recon break's reason code was set")
BREAK_RESOLVED = kind_register("recon.break_resolved", "An operator resolved a recon break")
BREAK_ESCALATED = kind_register("recon.break_escalated", "A recon break was escalated")
