"""Slack effects of resolving, closing and reopening a case, and the prevention-action job.

``remind_prevention`` runs in every tick: prevention actions whose business morning has come are
claimed and their owners get a DM with a Mark done button (key ``prevention:<id>:remind``); the day
after the due date an action not done turns overdue and the case summary says so.
The effects: ``resolution.notice`` (resolved, closed, reopened), ``prevention.dm``,
``case.archive_channel`` (``archive_on_close``) and ``case.unarchive_channel`` (on reopen; when Slack
refuses, the case moves to a new linked channel set up by the usual chain).
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks.common import channel_link
from bot.blocks.prevention import closed_notice, prevention_blocks, prevention_text, reopened_notice, resolved_notice
from bot.domain import resolution
from bot.domain.records import add_event, enqueue
from bot.domain.resolution import (
    ARCHIVE,
    NOTICE,
    PREVENTION_BATCH,
    PREVENTION_DM,
    UNARCHIVE,
    CaseLink,
    claim_prevention,
    team_today,
)
from bot.services import Services
from bot.slack_client import ALREADY_DONE, is_transient, slack_error
from jobs.case_setup import load_case
from jobs.outbox import Done, Item, Skip, effect
from jobs.posting import post_once
from storage.models import Case, CaseEvent, CustomerUpdate, PreventionAction


def remind_prevention(svc: Services, now: datetime) -> int:
    """Claim due prevention actions in batches; the tick's outbox run then sends the DMs."""
    total = 0
    while True:
        with svc.db.transaction() as session:
            claimed = claim_prevention(session, now, svc.config, PREVENTION_BATCH)
        total += claimed
        if claimed < PREVENTION_BATCH:
            return total


def _dm_owner(session: Session, case: Case, key: str, text: str, now: datetime, user: str | None = None) -> None:
    enqueue(session, key=f"failed:{key}", kind="notify.dm", case_id=case.id, now=now,
            payload={"user": user or case.owner_id, "text": text})


# ---------------------------------------------------------------- notices


def _notice_failed(session: Session, item: Item, error: str, now: datetime) -> None:
    """A reopen notice met an archived channel we did not know of (archived by hand): unarchive it, or
    move the case to a new channel. Other notices are only recorded."""
    case = session.get(Case, item.case_id) if item.case_id is not None else None
    if case is None:
        return
    n = item.payload.get("reopen")
    if error == "is_archived" and n is not None and not item.payload.get("retry") and case.channel_id:
        resolution.channel_archived(session, case, now=now)
        enqueue(session, key=f"case:{case.id}:reopen{n}:unarchive", kind=UNARCHIVE, case_id=case.id, now=now,
                payload={"event_id": item.payload["event_id"], "reopen": n})
        return
    add_event(session, case, at=now, actor="bot", kind="notice_failed", text=f"{item.key}: {error}")


@effect(NOTICE, on_failure=_notice_failed)
def post_notice(ctx: Services, item: Item) -> Done:
    """Resolved, closed or reopened: rendered from the event and the case as they are now."""
    with ctx.db.transaction() as session:
        case = load_case(session, item.case_id)
        event = session.get(CaseEvent, item.payload["event_id"])
        if event is None or not case.channel_id or case.channel_archived_at is not None:
            raise Skip("no usable case channel to post in")
        data = event.data or {}
        if event.kind == "resolved":
            actions = list(session.scalars(select(PreventionAction).where(
                PreventionAction.id.in_([int(i) for i in data.get("actions") or []])).order_by(PreventionAction.id)))
            update = session.get(CustomerUpdate, data["update_id"]) if data.get("update_id") else None
            earlier = None
            if data.get("recurrence_of"):
                row = session.execute(select(Case.number, Case.channel_id)
                                      .where(Case.number == int(data["recurrence_of"]))).first()
                earlier = CaseLink(row[0], row[1]) if row else None
            text = resolved_notice(case, event, actions, update, earlier, team_today(item.now, ctx.config))
        elif event.kind == "closed":
            text = closed_notice(case, event)
        elif event.kind == "reopened":
            text = reopened_notice(case, event, earlier_channel=item.payload.get("earlier_channel"),
                                   unarchived=bool(item.payload.get("unarchived")))
        else:
            raise Skip(f"no notice for {event.kind}")
        channel = case.channel_id
    ts = post_once(ctx.client, item, channel=channel, text=text)
    return Done({"ts": ts})


# ---------------------------------------------------------------- prevention actions


def _dm_failed(session: Session, item: Item, error: str, now: datetime) -> None:
    """The owner could not be told (deactivated, not found): on the timeline, and the case owner hears of it."""
    case = session.get(Case, item.case_id) if item.case_id is not None else None
    action = session.get(PreventionAction, item.payload.get("action_id"))
    if case is None or action is None:
        return
    add_event(session, case, at=now, actor="bot", kind="prevention_dm_failed", text=f"{action.what}: {error}",
              data={"action_id": action.id})
    _dm_owner(session, case, item.key, f":warning: I could not DM <@{action.owner_id}> about their prevention action "
              f"on case #{case.number} ({error}). Please tell them, or give the action to someone else.", now)


@effect(PREVENTION_DM, on_failure=_dm_failed)
def dm_prevention_owner(ctx: Services, item: Item) -> Done:
    """To the action's owner (a user id as channel opens the DM), with a Mark done button."""
    with ctx.db.transaction() as session:
        action = session.get(PreventionAction, item.payload["action_id"])
        if action is None:
            raise Skip("the prevention action no longer exists")
        case = load_case(session, item.case_id)
    if action.status == "done":
        raise Skip("already done")
    why = str(item.payload.get("why") or "due")
    ts = post_once(ctx.client, item, channel=action.owner_id, text=prevention_text(action, case, why),
                   blocks=prevention_blocks(action, case, why))
    return Done({"ts": ts})


# ---------------------------------------------------------------- archive and unarchive


def _closer(session: Session, item: Item) -> str | None:
    event = session.get(CaseEvent, item.payload.get("event_id"))
    return event.actor if event is not None else None


def _archive_failed(session: Session, item: Item, error: str, now: datetime) -> None:
    case = session.get(Case, item.case_id) if item.case_id is not None else None
    if case is None:
        return
    add_event(session, case, at=now, actor="bot", kind="archive_failed", text=error)
    _dm_owner(session, case, item.key, f":warning: Case #{case.number} is closed, but I could not archive "
              f"{channel_link(case.channel_id)} ({error}). Archive it by hand if you want it out of the way.", now,
              user=_closer(session, item))


@effect(ARCHIVE, on_failure=_archive_failed)
def archive_channel(ctx: Services, item: Item) -> Done:
    """After the close notice: ``already_archived`` counts as done."""
    with ctx.db.transaction() as session:
        case = load_case(session, item.case_id)
    if not case.channel_id:
        raise Skip("no channel to archive")
    if case.status != "closed":
        raise Skip("the case was reopened before its channel was archived")
    if case.channel_archived_at is None:
        try:
            ctx.client.conversations_archive(channel=case.channel_id)
        except SlackApiError as exc:
            if slack_error(exc) not in ALREADY_DONE:
                raise

    def apply(session: Session) -> None:
        row = session.get_one(Case, case.id)
        if row.channel_id == case.channel_id:
            resolution.channel_archived(session, row, now=item.now)

    return Done({"channel": case.channel_id}, apply)


def _replace_after_failure(session: Session, item: Item, error: str, now: datetime) -> None:
    """Unarchiving kept failing (Slack down for long): the case still needs a channel, so a new one."""
    case = session.get(Case, item.case_id) if item.case_id is not None else None
    if case is None or not case.is_open:
        return
    resolution.replace_channel(session, case, event_id=int(item.payload["event_id"]), n=int(item.payload["reopen"]),
                               now=now, error=error)


@effect(UNARCHIVE, on_failure=_replace_after_failure)
def unarchive_channel(ctx: Services, item: Item) -> Done:
    """Slack often refuses this to bot tokens (DESIGN #20): then the case moves to a new linked channel."""
    with ctx.db.transaction() as session:
        case = load_case(session, item.case_id)
    if not case.is_open:
        raise Skip("the case ended again before its channel was back")
    event_id, n = int(item.payload["event_id"]), int(item.payload["reopen"])
    error: str | None = "no channel" if not case.channel_id else None
    if case.channel_id:
        try:
            ctx.client.conversations_unarchive(channel=case.channel_id)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error == "not_archived":  # unarchived by someone meanwhile
                error = None
            elif is_transient(exc):
                raise

    def apply(session: Session) -> None:
        row = session.get_one(Case, case.id)
        if row.channel_id != case.channel_id:
            return  # moved meanwhile
        if error is None:
            resolution.unarchived(session, row, event_id=event_id, n=n, now=item.now)
        else:
            resolution.replace_channel(session, row, event_id=event_id, n=n, now=item.now, error=error)

    return Done({"unarchived": error is None, "error": error}, apply)
