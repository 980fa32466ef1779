"""The event kinds data quality writes to the shared event log."""

from book.events import kind_register

ALERT_RAISED = kind_register("dq.alert_raised", "A data-quality alert was raised")
ALERT_RESOLVED = kind_register("dq.alert_resolved", "A data-quality alert was resolved")
ALERT_ACKNOWLEDGED = kind_register("dq.alert_acknowledged", "A data-quality alert was acknowledged")
ALERT_SNOOZED = kind_register("dq.alert_snoozed", "A data-quality alert was snoozed")
ALERT_ASSIGNED = kind_register("dq.alert_assigned", "A data-quality alert was assigned")
ALERT_COMMENTED = kind_register("dq.alert_commented", "A comment was added to a data-quality alert")
RULE_CHANGED = kind_register("dq.rule_changed", "A data-quality rule was changed (new version)")
