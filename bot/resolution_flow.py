"""Ending a case and bringing it back, as handlers call it: resolve, close, reopen, Mark done.

Like ``bot/case_flow.py``: the team is read first (it may ask Slack), then one short transaction runs
before the ack and returns the sentence for the person; ``FlowError`` says why nothing changed. Only
the owner or an advocate may resolve, close or reopen a case. ``reopen`` works from any channel (the
case's own may be archived) and is also what the App Home's Reopen button calls.
"""

from __future__ import annotations

from sqlalchemy import select

from bot import case_flow
from bot.blocks.common import Block, channel_link, mention, slack_date
from bot.blocks.prevention import prevention_blocks, prevention_text
from bot.domain import resolution
from bot.domain.resolution import Resolution, WrongStatus
from bot.escalation_flow import advocates
from bot.flow import FlowError, case_here
from bot.services import Services
from bot.text import unescape_slack
from storage.models import Case, PreventionAction
from storage.queries import claim_delivery

REOPEN_USAGE = "`/case reopen <number> <reason>`, e.g. `/case reopen 12 the refund bounced`"
REASON_MAX = 2000


def _refuse(case: Case, verb: str) -> FlowError:
    return FlowError(f"Only the owner ({mention(case.owner_id)}) or an advocate can {verb} case #{case.number}.")


def resolve_form(svc: Services, *, user: str, channel_id: str | None) -> Case:
    """``/case resolve``: may this person resolve the case of this channel? The case, for the modal."""
    people = case_flow.team(svc)
    with svc.db.transaction(urgent=True) as session:  # before the ack, and the trigger ID is ageing
        case = case_here(session, channel_id, "/case resolve", open_only=False)
        if not case.is_open:
            raise FlowError(f"Case #{case.number} is already {case.status}."
                            + (f" `/case reopen {case.number}` brings it back." if case.status == "closed" else
                               f" `/case close` closes it; `/case reopen {case.number}` brings it back."))
        if not people.may_close(user, case):
            raise _refuse(case, "resolve")
        _ = case.customer
        return case


def resolve(svc: Services, *, user: str, case_id: int, form: Resolution, delivery: str) -> str:
    """The modal's submission. Keyed by the view (``delivery``): a modal submitted twice resolves once."""
    people = case_flow.team(svc)
    now = svc.clock()
    with svc.db.transaction(urgent=True) as session:
        if not claim_delivery(session, delivery, now):
            return "Already resolved."
        case = session.get(Case, case_id)
        if case is None:
            raise FlowError("That case no longer exists.")
        if not people.may_close(user, case):
            raise _refuse(case, "resolve")
        if form.category not in svc.config.root_causes:
            raise FlowError(f"“{form.category}” is not a root-cause category any more; choose another.")
        try:
            resolution.resolve(session, case, form, by=user, now=now, config=svc.config)
        except WrongStatus as exc:
            raise FlowError(str(exc)) from None
        return f":white_check_mark: Case #{case.number} is resolved."


def close(svc: Services, *, user: str, channel_id: str | None) -> str:
    people = case_flow.team(svc)
    now = svc.clock()
    with svc.db.transaction(urgent=True) as session:
        case = case_here(session, channel_id, "/case close", open_only=False)
        if not people.may_close(user, case):
            raise _refuse(case, "close")
        try:
            event = resolution.close(session, case, by=user, now=now, config=svc.config)
        except WrongStatus as exc:
            raise FlowError(str(exc)) from None
        archive = " I am archiving this channel." if (event.data or {}).get("archive") else ""
        return f":lock: Case #{case.number} is closed.{archive} `/case reopen {case.number}` brings it back."


def parse_reopen(text: str) -> tuple[int, str]:
    """``12 the refund bounced`` (``#12`` too) → (12, "the refund bounced"); the reason may be left out."""
    first, _, rest = text.strip().partition(" ")
    number = first.lstrip("#")
    if not first:
        raise FlowError(f"Say which case: {REOPEN_USAGE}.")
    if not number.isdigit():
        raise FlowError(f"“{first[:20]}” is not a case number: {REOPEN_USAGE}.")
    reason = unescape_slack(rest).strip()
    if len(reason) > REASON_MAX:
        raise FlowError(f"Keep the reason under {REASON_MAX} characters; add details with `/case note`.")
    return int(number), reason


def reopen(svc: Services, *, user: str, number: int, reason: str) -> str:
    """Reopen case ``number`` (resolved or closed) from anywhere; the owner or an advocate may.

    The update cadence restarts from now. If its channel was archived, Slack is asked to unarchive it,
    and when it refuses (bot tokens usually cannot) the case moves to a new channel linked to the old one.
    """
    people = case_flow.team(svc)
    now = svc.clock()
    with svc.db.transaction(urgent=True) as session:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None:
            raise FlowError(f"There is no case #{number}.")
        if not people.may_close(user, case):
            raise _refuse(case, "reopen")
        archived = case.channel_archived_at is not None or not case.channel_id
        try:
            resolution.reopen(session, case, by=user, reason=reason or None, now=now, config=svc.config)
        except WrongStatus as exc:
            raise FlowError(str(exc)) from None
        due = f" Next customer update due {slack_date(case.next_update_due)}." if case.next_update_due else ""
        where = ("Its channel was archived: I am unarchiving it, or opening a new linked channel if Slack will "
                 "not let me." if archived else f"I am saying so in {channel_link(case.channel_id)}.")
        return f":leftwards_arrow_with_hook: Case #{case.number} is reopened (investigating).{due} {where}"


def mark_prevention_done(svc: Services, *, user: str, action_id: int) -> tuple[str, list[Block]]:
    """The DM's Mark done button: the action's owner, the case owner or an advocate. The message to show."""
    team = advocates(svc)  # may ask Slack: before the transaction
    now = svc.clock()
    with svc.db.transaction(urgent=True) as session:
        action = session.get(PreventionAction, action_id)
        if action is None:
            raise FlowError("That prevention action no longer exists.")
        case = session.get_one(Case, action.case_id)
        if user not in (action.owner_id, case.owner_id) and user not in team:
            raise FlowError(f"Only {mention(action.owner_id)} (who owns this action), the case owner "
                            f"({mention(case.owner_id)}) or an advocate can mark it done.")
        resolution.mark_done(session, action, case, by=user, now=now, config=svc.config)
        _ = case.customer
        return prevention_text(action, case, "done"), prevention_blocks(action, case, "done")
