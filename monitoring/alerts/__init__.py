"""Alerts (monitoring.models.alerts): what each rule watches (`conditions`), the one door that opens,
sends, escalates, acknowledges and ends them (`lifecycle`), how people and IT systems are told
(`notify`), and the andon banner of the screens (`banner`)."""

from monitoring.alerts.lifecycle import acknowledge, evaluate  # noqa: F401
from monitoring.alerts.notify import alert_json  # noqa: F401
