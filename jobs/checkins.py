"""The check-in jobs and their Slack effects.

Two jobs run in every tick: ``ensure_checkins`` (plan what is missing, cancel what no longer applies) and
``prompt_checkins`` (claim due check-ins; one ``checkin.prompt`` outbox row each, key
``checkin:<id>:prompt:<n>``). The effects:

- ``checkin.prompt``: the DM to the advocate, sent only inside ``business_hours`` in the advocate's own
  timezone (their Slack profile's, else the team's): outside them it raises ``Defer`` until they open. It
  carries its key in message metadata; a retry after a lost answer looks for it in the DM first when
  the DM's channel is known from an earlier check-in.
- ``checkin.refresh_dm``: chat.update of that DM with the outcome (logged, skipped, snoozed, cancelled).
- ``checkin.close_loop``: an unhappy customer (or the form's checkbox): ``escalation_flow.request_case``
  as the advocate, keyed ``checkin:<id>:case``; then ``checkin.link_case``, chained after that
  escalation, sets ``Feedback.case_id`` to the case it opened (or the customer's open case it was offered).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks.checkin import prompt_blocks, prompt_text
from bot.domain import checkins
from bot.domain.cases import Origin
from bot.domain.checkins import CLOSE_LOOP, LINK_CASE, PROMPT, REFRESH_DM, Sweep
from bot.domain.contact_hours import next_open
from bot.domain.escalation import EscalationRequest
from bot.domain.records import enqueue
from bot.escalation_flow import advocates, request_case
from bot.services import Services
from bot.slack_client import is_transient, slack_error
from bot.text import escape_mrkdwn
from jobs.outbox import Defer, Done, Item, Skip, effect
from jobs.posting import METADATA_EVENT, find_posted
from storage.models import Case, CheckIn, Customer, Feedback, OutboxItem

log = logging.getLogger(__name__)


def ensure_checkins(svc: Services, now: datetime) -> int:
    """Each customer with a cadence has one open cadence check-in; churned customers have none."""
    with svc.db.transaction() as session:
        sweep: Sweep = checkins.ensure_checkins(session, now, svc.config)
    return sweep.total


def prompt_checkins(svc: Services, now: datetime) -> int:
    """Claim due check-ins in batches; the tick's outbox run then sends the DMs (in working hours)."""
    team = advocates(svc)  # may ask Slack: before any transaction
    total = 0
    while True:
        with svc.db.transaction() as session:
            claimed = checkins.claim_prompts(session, now, team, checkins.PROMPT_BATCH)
        total += claimed
        if claimed < checkins.PROMPT_BATCH:
            return total


# ---------------------------------------------------------------- the DM


def advocate_zone(ctx: Services, user: str) -> ZoneInfo:
    """The advocate's own zone from Slack (cached), else the team's; Slack being down is retried."""
    try:
        return ctx.directory.user_zone(user) or ctx.config.zone
    except SlackApiError as exc:
        if is_transient(exc):
            raise
        log.info("no timezone for %s (%s): using the team's", user, slack_error(exc))
        return ctx.config.zone


def post_dm(client: WebClient, item: Item, *, user: str, known: str | None, text: str,
            blocks: list[dict[str, Any]]) -> tuple[str, str]:
    """Post once to the app's DM with ``user``: (channel, ts).

    Like ``post_once``, the key rides in metadata; a retry looks for it in the DM when its channel is
    known (a user ID cannot be searched), and we learn the channel from the answer.
    """
    if item.attempts > 1 and known:
        found = find_posted(client, known, item.key)
        if found:
            return known, found
    response = client.chat_postMessage(channel=known or user, text=text, blocks=blocks,
                                       metadata={"event_type": METADATA_EVENT, "event_payload": {"key": item.key}},
                                       unfurl_links=False, unfurl_media=False)
    return str(response["channel"]), str(response["ts"])


def _prompt_failed(session: Session, item: Item, error: str, now: datetime) -> None:
    """The advocate cannot be DMed (deactivated, not found): another advocate hears of it. The check-in
    stays prompted (on the Home of whoever it was put to) until someone answers it."""
    checkin = session.get(CheckIn, item.payload.get("checkin_id"))
    if checkin is None or checkin.status != "prompted":
        return
    customer = session.get_one(Customer, checkin.customer_id)
    user = item.payload.get("fallback")
    if user:
        enqueue(session, key=f"failed:{item.key}", kind="notify.dm", now=now, payload={
            "user": user, "text": f":warning: I could not DM <@{checkin.advocate_id}> about the check-in with "
                                  f"*{escape_mrkdwn(customer.name)}* ({error}). Please take it over or tell them."})


@effect(PROMPT, on_failure=_prompt_failed)
def prompt_advocate(ctx: Services, item: Item) -> Done:
    n = int(item.payload["prompt"])
    checkin_id = int(item.payload["checkin_id"])
    with ctx.db.transaction() as session:
        checkin = session.get(CheckIn, checkin_id)
        if checkin is None or checkin.status != "prompted" or checkin.prompts != n:
            raise Skip("answered, snoozed or cancelled before the DM went out")
        user = str(checkin.advocate_id)
        known = checkin.channel_id or checkins.known_dm(session, user)
    zone = advocate_zone(ctx, user)
    opens = next_open(item.now, zone, ctx.config.business_hours)
    if opens > item.now:
        raise Defer(opens, f"outside {user}'s working hours ({zone.key})")
    with ctx.db.transaction() as session:
        checkin = session.get_one(CheckIn, checkin_id)
        context = checkins.prompt_context(session, checkin, item.now, ctx.config)
    suggested = checkins.suggest(context, item.now, zone, ctx.config)
    channel, ts = post_dm(ctx.client, item, user=user, known=known, text=prompt_text(context),
                          blocks=prompt_blocks(context, suggested))

    def apply(session: Session) -> None:
        row = session.get_one(CheckIn, checkin_id)
        if row.prompts != n:
            return  # snoozed and prompted again meanwhile: that prompt owns the row
        row.channel_id, row.message_ts, row.prompted_at, row.suggested_at = channel, ts, item.now, suggested
        if row.status != "prompted":  # answered from the Home while we posted: the DM says so
            enqueue(session, key=f"checkin:{row.id}:dm:after:{n}", kind=REFRESH_DM, now=item.now,
                    payload={"checkin_id": row.id})

    return Done({"channel": channel, "ts": ts, "suggested": suggested.isoformat()}, apply)


@effect(REFRESH_DM)
def refresh_dm(ctx: Services, item: Item) -> Done:
    """Re-render the DM from the check-in as it is now (chat.update notifies nobody: right for an outcome)."""
    with ctx.db.transaction() as session:
        checkin = session.get(CheckIn, item.payload["checkin_id"])
        if checkin is None or not (checkin.channel_id and checkin.message_ts):
            raise Skip("the DM was never posted")
        context = checkins.prompt_context(session, checkin, item.now, ctx.config)
    ctx.client.chat_update(channel=checkin.channel_id, ts=checkin.message_ts, text=prompt_text(context),
                           blocks=prompt_blocks(context, checkin.suggested_at))
    return Done()


# ---------------------------------------------------------------- closing the loop


def case_key(checkin_id: int) -> str:
    return f"checkin:{checkin_id}:case"


@effect(CLOSE_LOOP)
def close_the_loop(ctx: Services, item: Item) -> Done:
    """Request a case as the advocate who logged it, through the same flow as /escalate (one key per check-in)."""
    checkin_id = int(item.payload["checkin_id"])
    with ctx.db.transaction() as session:
        feedback = session.get(Feedback, item.payload["feedback_id"])
        checkin = session.get(CheckIn, checkin_id)
        if feedback is None or checkin is None:
            raise Skip("the check-in or its feedback is gone")
        customer = session.get_one(Customer, checkin.customer_id)
        request = EscalationRequest(customer=customer.name, summary=checkins.escalation_summary(feedback))
        requester = feedback.advocate_id or checkin.done_by or checkin.advocate_id
    if not requester:
        raise Skip("nobody to request the case as")
    requested = request_case(ctx, request, Origin(requester=requester), key=case_key(checkin_id))

    def apply(session: Session) -> None:
        escalation = session.scalar(select(OutboxItem).where(OutboxItem.key == case_key(checkin_id)))
        if escalation is not None:
            enqueue(session, key=f"checkin:{checkin_id}:link_case", kind=LINK_CASE, now=item.now, after=escalation,
                    payload={"checkin_id": checkin_id, "feedback_id": item.payload["feedback_id"]})

    return Done({"requested": requested}, apply)


@effect(LINK_CASE)
def link_case(ctx: Services, item: Item) -> Done:
    """After the escalation ran: the case it opened (or the open case it offered to add to) is the feedback's."""
    checkin_id = int(item.payload["checkin_id"])
    result: dict[str, Any] = {}

    def apply(session: Session) -> None:
        escalation = session.scalar(select(OutboxItem).where(OutboxItem.key == case_key(checkin_id)))
        outcome = (escalation.result or {}) if escalation is not None and escalation.status == "done" else {}
        number = outcome.get("case") or outcome.get("choice")
        case = session.scalar(select(Case).where(Case.number == int(number))) if number else None
        feedback = session.get(Feedback, item.payload["feedback_id"])
        if case is None or feedback is None:
            result["linked"] = None
            return
        feedback.case_id = case.id
        result["linked"] = case.number
        checkin = session.get(CheckIn, checkin_id)
        if checkin is not None and checkin.message_ts:
            enqueue(session, key=f"checkin:{checkin_id}:dm:case", kind=REFRESH_DM, now=item.now,
                    payload={"checkin_id": checkin_id})

    return Done(result, apply)
