"""What every flow shares: the refusal type, and finding the case whose channel a command was typed in."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.domain.case_room import case_in_channel
from storage.models import Case


class FlowError(Exception):
    """Nothing changed; the message tells the person why and what to do instead."""


def case_here(session: Session, channel_id: str | None, usage: str, *, open_only: bool = True) -> Case:
    """The case of this channel, or a refusal saying where ``usage`` works (and how to reopen an ended case)."""
    case = case_in_channel(session, channel_id)
    if case is None:
        raise FlowError(f"`{usage}` works in a case channel (#case-…); type it there.")
    if open_only and not case.is_open:
        raise FlowError(f"Case #{case.number} is {case.status}; `/case reopen {case.number}` brings it back.")
    return case
