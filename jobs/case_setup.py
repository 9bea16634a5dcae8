"""The case set-up chain as outbox effects: channel, invites, topic, summary, pin, bookmark, reply.

Every effect is idempotent: it checks what the database already knows, treats Slack's "already so"
answers as success, and reconciles when an earlier attempt may have succeeded unseen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.blocks.case_summary import case_summary, case_topic, summary_text
from bot.blocks.common import mention
from bot.blocks.replies import case_opened_reply, report_added_reply, setup_failed_dm
from bot.domain.cases import add_event, enqueue
from bot.domain.resolution import summary_context
from bot.services import Services
from bot.slack_client import ALREADY_DONE, slack_error
from bot.text import channel_name, escape_mrkdwn
from jobs.outbox import Done, Item, PermanentFailure, Skip, effect
from jobs.posting import post_once
from jobs.replies import tell
from storage.models import Case, CaseEvent

STEP_NAMES = {
    "case.create_channel": "create the case channel",
    "case.invite": "invite the owner, reporter and department heads",
    "case.set_topic": "set the channel topic",
    "case.post_summary": "post the case summary",
    "case.pin_summary": "pin the case summary",
    "case.bookmark_source": "bookmark the original message",
    "case.notify_requester": "send you the link",
    "case.invite_users": "invite you to the case channel",
    "case.post_report": "post the new report in the case channel",
}
# Per-user invite errors: the rest of the invite still counts.
USER_ERRORS = frozenset(
    {"user_not_found", "user_is_deleted", "cant_invite", "user_is_restricted", "user_is_ultra_restricted",
     "cant_invite_self", "invalid_user", "user_disabled", "ura_max_channels", "not_allowed"}
)
MAX_NAME_TRIES = 20


def load_case(session: Session, case_id: int | None) -> Case:
    """An effect's case, with its customer and departments loaded (used after the session closes)."""
    case = session.get(Case, case_id) if case_id is not None else None
    if case is None:
        raise Skip("case no longer exists")
    _ = case.customer, list(case.departments)
    return case


def _case(ctx: Services, case_id: int | None) -> Case:
    with ctx.db.transaction() as session:
        return load_case(session, case_id)


def _channel(case: Case) -> str:
    if not case.channel_id:
        raise Skip("the case channel was never created")
    return case.channel_id


def report_failure(session: Session, item: Item, error: str, now: datetime) -> None:
    """A set-up step failed for good: tell the requester and the owner, through the outbox."""
    case = session.get(Case, item.case_id) if item.case_id is not None else None
    if case is None:
        return
    text = setup_failed_dm(case, STEP_NAMES.get(item.kind, item.kind), error)
    add_event(session, case, at=now, actor="bot", kind="setup_failed", text=f"{item.kind}: {error}")
    for user in dict.fromkeys([case.reporter_id, case.owner_id]):
        enqueue(
            session,
            key=f"failed:{item.key}:{user}",
            kind="notify.dm",
            case_id=case.id,
            payload={"user": user, "text": text},
            now=now,
        )


def _own_channel(ctx: Services, name: str, case: Case) -> dict[str, Any] | None:
    """A channel named ``name`` that our bot created for this case in an attempt whose answer we lost.

    Only ever true for a channel the bot itself created after the case was recorded: an existing
    channel (even one of an older install with the same case number) is never adopted.
    """
    bot = ctx.directory.identity().bot_user_id
    cursor = None
    for _ in range(50):
        page = ctx.client.conversations_list(
            types="public_channel,private_channel", exclude_archived=False, limit=1000, cursor=cursor
        )
        for channel in page.get("channels") or []:
            if (
                channel.get("name") == name
                and channel.get("creator") == bot
                and int(channel.get("created") or 0) >= int(case.created_at.timestamp()) - 60
            ):
                return channel
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


@effect("case.create_channel", on_failure=report_failure)
def create_channel(ctx: Services, item: Item) -> Done:
    case = _case(ctx, item.case_id)
    if case.channel_id:
        return Done({"channel": case.channel_id})
    prefix = f"case-{case.number}"
    is_private = ctx.config.case_channels == "private"
    channel = None
    for attempt in range(1, MAX_NAME_TRIES + 1):
        name = channel_name(prefix, case.customer.name, suffix="" if attempt == 1 else str(attempt))
        try:
            channel = ctx.client.conversations_create(name=name, is_private=is_private)["channel"]
            break
        except SlackApiError as exc:
            if slack_error(exc) != "name_taken":
                raise
            if item.attempts > 1:
                channel = _own_channel(ctx, name, case)
                if channel is not None:
                    break
    if channel is None:
        raise PermanentFailure("name_taken", f"{prefix}-… names are all taken")
    channel_id, final_name = str(channel["id"]), str(channel["name"])

    def apply(session: Session) -> None:
        row = session.get_one(Case, case.id)
        row.channel_id, row.channel_name = channel_id, final_name
        add_event(session, row, at=item.now, actor="bot", kind="channel_created", text=f"#{final_name}")

    return Done({"channel": channel_id, "name": final_name}, apply)


def _invite(ctx: Services, channel: str, users: list[str]) -> tuple[list[str], dict[str, str]]:
    """Invite ``users``; returns (invited or already there, {user: error}) — one bad user blocks nobody.

    With ``force=true`` Slack invites the valid users and answers ``ok: false`` with an ``errors``
    list for the others; without per-user detail we fall back to one invite per user.
    """
    if not users:
        return [], {}
    try:
        errors = ctx.client.conversations_invite(channel=channel, users=",".join(users), force=True).get("errors")
    except SlackApiError as exc:
        error = slack_error(exc)
        errors = exc.response.get("errors") if exc.response is not None else None
        if not errors:
            if error in ALREADY_DONE:
                return users, {}
            if error not in USER_ERRORS and error != "invalid_arguments":
                raise
            if len(users) == 1:
                return [], {users[0]: error}
            invited: list[str] = []
            failed: dict[str, str] = {}
            for user in users:
                ok, bad = _invite(ctx, channel, [user])
                invited += ok
                failed.update(bad)
            return invited, failed
    failed = {
        str(e.get("user")): str(e.get("error")) for e in errors or [] if e.get("error") not in ALREADY_DONE
    }
    return [u for u in users if u not in failed], failed


@effect("case.invite", on_failure=report_failure)
def invite(ctx: Services, item: Item) -> Done:
    case = _case(ctx, item.case_id)
    channel = _channel(case)
    bot = ctx.directory.identity().bot_user_id
    wanted = [case.owner_id, case.reporter_id] + [h for d in case.departments for h in d.heads]
    users = [u for u in ctx.directory.expand(wanted) if u != bot]
    invited, failed = _invite(ctx, channel, users)

    def apply(session: Session) -> None:
        row = session.get_one(Case, case.id)
        add_event(session, row, at=item.now, actor="bot", kind="invited", data={"users": invited, "failed": failed})
        if failed:
            report_failure(
                session,
                item,
                "could not invite " + ", ".join(f"{mention(u)} ({e})" for u, e in failed.items()),
                item.now,
            )

    return Done({"invited": invited, "failed": failed}, apply)


@effect("case.set_topic", on_failure=report_failure)
def set_topic(ctx: Services, item: Item) -> Done:
    case = _case(ctx, item.case_id)
    ctx.client.conversations_setTopic(channel=_channel(case), topic=case_topic(case))
    return Done()


@effect("case.post_summary", on_failure=report_failure)
def post_summary(ctx: Services, item: Item) -> Done:
    case = _case(ctx, item.case_id)
    if case.summary_ts:
        return Done({"ts": case.summary_ts})
    more = None
    if case.reopened_at:  # a reopened case's new channel: the summary links the old one (and its resolution)
        with ctx.db.transaction() as session:
            more = summary_context(session, case, item.now, ctx.config)
    ts = post_once(ctx.client, item, channel=_channel(case), text=summary_text(case),
                   blocks=case_summary(case, more))

    def apply(session: Session) -> None:
        row = session.get_one(Case, case.id)
        row.summary_ts = ts
        for department in row.departments:  # the summary asks them: the nudge goes in its thread
            department.ask_ts = department.ask_ts or ts
        add_event(session, row, at=item.now, actor="bot", kind="summary_posted", slack_ts=ts)

    return Done({"ts": ts}, apply)


@effect("case.pin_summary", on_failure=report_failure)
def pin_summary(ctx: Services, item: Item) -> Done:
    case = _case(ctx, item.case_id)
    if not case.summary_ts:
        raise Skip("no summary to pin")
    try:
        ctx.client.pins_add(channel=_channel(case), timestamp=case.summary_ts)
    except SlackApiError as exc:
        if slack_error(exc) not in ALREADY_DONE:
            raise
    return Done()


def _permalink(ctx: Services, channel: str, ts: str) -> str:
    try:
        return str(ctx.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
    except SlackApiError as exc:
        if slack_error(exc) not in {"channel_not_found", "message_not_found", "not_in_channel"}:
            raise
    # The bot may not see the source channel: Slack's permalink format is stable, build it.
    return ctx.directory.permalink(channel, ts)


@effect("case.bookmark_source", on_failure=report_failure)
def bookmark_source(ctx: Services, item: Item) -> Done:
    case = _case(ctx, item.case_id)
    channel = _channel(case)
    if not (case.source_channel_id and case.source_ts):
        raise Skip("no original message")
    link = case.source_permalink or _permalink(ctx, case.source_channel_id, case.source_ts)
    ctx.client.bookmarks_add(channel_id=channel, title="Original message", type="link", link=link)

    def apply(session: Session) -> None:
        session.get_one(Case, case.id).source_permalink = link

    return Done({"link": link}, apply)


@effect("case.notify_requester")
def notify_requester(ctx: Services, item: Item) -> Done:
    case = _case(ctx, item.case_id)
    user = str(item.payload["user"])
    if item.payload.get("added"):
        text = report_added_reply(case)
    elif case.channel_id:
        text = case_opened_reply(case)
    else:
        raise Skip("no channel to link to; the failure was reported")
    return Done({"via": tell(ctx, item, user, item.payload.get("response_url"), text)})


@effect("case.invite_users", on_failure=report_failure)
def invite_users(ctx: Services, item: Item) -> Done:
    case = _case(ctx, item.case_id)
    bot = ctx.directory.identity().bot_user_id
    users = ctx.directory.expand(item.payload.get("users", []))  # heads may be user groups
    invited, failed = _invite(ctx, _channel(case), [u for u in users if u != bot])
    return Done({"invited": invited, "failed": failed})


@effect("case.post_report", on_failure=report_failure)
def post_report(ctx: Services, item: Item) -> Done:
    case = _case(ctx, item.case_id)
    with ctx.db.transaction() as session:
        event = session.get_one(CaseEvent, item.payload["event_id"])
        actor, text = event.actor, event.text or ""
    message = f"New report from {mention(actor)} about {escape_mrkdwn(case.customer.name)}:\n>{escape_mrkdwn(text)}"
    ts = post_once(ctx.client, item, channel=_channel(case), text=message)

    def apply(session: Session) -> None:
        session.get_one(CaseEvent, item.payload["event_id"]).slack_ts = ts

    return Done({"ts": ts}, apply)


@effect("notify.dm")
def notify_dm(ctx: Services, item: Item) -> Done:
    ts = post_once(ctx.client, item, channel=str(item.payload["user"]), text=str(item.payload["text"]))
    return Done({"ts": ts})

