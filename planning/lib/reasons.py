"""Reason codes the product itself gives meaning to. Pure: no Django."""

from __future__ import annotations

NO_DATA_REASON = "no-data"
"""Time without data from a device: the pipeline's own reason, never one an operator gives."""
