"""What planning tells whoever builds on it, inside the transaction of the change."""

from __future__ import annotations

from django.dispatch import Signal

run_windows_changed = Signal()
"""An order's run windows changed. Arguments: `order`, and `before` and `after`, each a dict of
machine id → (machine, windows): the parts counted in between now belong to another order."""

order_moved = Signal()
"""An order moved through its state machine. Arguments: `order`, `move` (release, start, pause,
resume, complete, cancel), `at` and `by` (who asked: "user:<name>" or "client:<name>")."""

order_put = Signal()
"""An order was created or its plan changed (product, quantity, line, machine, planned window) by
`workflow.put_order`. Arguments: `order`, `created`, `changed` (the names of the fields that changed)
and `by` (who asked, as for a move; empty when the caller did not say)."""
