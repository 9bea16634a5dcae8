"""Pieces shared by the listener modules."""

from __future__ import annotations

from slack_bolt import Ack


def acknowledge(ack: Ack) -> None:
    """The ack function of listeners whose work all happens after the answer (Bolt lazy listeners)."""
    ack()
