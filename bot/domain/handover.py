"""Handing an advocate's open cases over to another advocate (holidays, leaving, load balancing).

For each open case of the one handing over: the owner changes (a ``handover`` event with from, to and
the reason), the new owner is invited to the case channel, then a handover note is posted there — in
that order, because a mention of someone not yet in the channel notifies nobody — and the pinned
summary is refreshed. Authorization is the caller's (``bot/handover_flow.py``). No Slack here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.cadence import refresh_summary
from bot.domain.records import add_event, enqueue
from storage.models import Case

NOTE_KIND = "case.handover_note"


@dataclass(frozen=True)
class Moved:
    """One case handed over, as the person who did it is told."""

    number: int
    customer: str
    channel_id: str | None
    severity: str
    status: str


def open_cases_of(session: Session, owner: str, *, lock: bool = False) -> list[Case]:
    query = (select(Case).where(Case.owner_id == owner, Case.status.in_(Case.OPEN_STATUSES))
             .order_by(Case.number))
    if lock:  # two handovers at once must not both move (and announce) the same case
        query = query.with_for_update(of=Case)
    return list(session.scalars(query))


def hand_over(session: Session, *, from_user: str, to_user: str, by: str, reason: str | None,
              now: datetime) -> list[Moved]:
    """Move every open case of ``from_user`` to ``to_user``; returns them in case-number order."""
    if from_user == to_user:
        raise ValueError("handing over to the same person")
    moved: list[Moved] = []
    for case in open_cases_of(session, from_user, lock=True):
        case.owner_id = to_user
        case.updated_at = now
        event = add_event(session, case, at=now, actor=by, kind="handover", text=reason,
                          data={"from": from_user, "to": to_user, "reason": reason})
        session.flush()
        invite = enqueue(session, key=f"invite:{event.id}", kind="case.invite_users", case_id=case.id, now=now,
                         payload={"users": [to_user]})
        enqueue(session, key=f"handover:{event.id}", kind=NOTE_KIND, case_id=case.id, now=now,
                payload={"event_id": event.id}, after=invite)
        refresh_summary(session, case, now, f"handover:{event.id}")
        moved.append(Moved(number=case.number, customer=case.customer.name, channel_id=case.channel_id,
                           severity=case.severity, status=case.status))
    return moved
