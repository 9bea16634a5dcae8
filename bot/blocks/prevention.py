"""How a case ended, in Slack: the resolved / closed / reopened notices, and prevention-action DMs.

Rendered from the database when posted (an event, the actions as they are now). User text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.blocks.common import Block, actions, button, channel_link, context, mention, money, section, slack_date
from bot.domain.resolution import CaseLink, is_overdue
from bot.text import escape_mrkdwn, truncate
from storage.models import Case, CaseEvent, CustomerUpdate, PreventionAction

PREVENTION_DONE = "prevention_done"
TEXT_MAX = 2000  # per piece of user text in a notice: the whole stays well under Slack's limits


def due_label(day: date) -> str:
    """A calendar date (no time, no zone): ``Tue 1 Dec 2026``."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def _quote(text: str | None, limit: int = TEXT_MAX) -> str:
    return ">" + truncate(escape_mrkdwn(text or ""), limit).replace("\n", "\n>")


def action_state(action: PreventionAction, today: date) -> str:
    if action.status == "done" and action.done_at is not None:
        who = f" by {mention(action.done_by)}" if action.done_by else ""
        return f":white_check_mark: done{who} {slack_date(action.done_at)}"
    if is_overdue(action, today):
        return ":warning: *overdue*"
    return ""


def action_line(action: PreventionAction, today: date, limit: int = 300) -> str:
    state = action_state(action, today)
    return (f"• {truncate(escape_mrkdwn(action.what), limit)} — {mention(action.owner_id)}, "
            f"due {due_label(action.due_on)}" + (f" · {state}" if state else ""))


def case_link(link: CaseLink) -> str:
    return f"#{link.number}" + (f" ({channel_link(link.channel_id)})" if link.channel_id else "")


def _money_line(case: Case) -> str:
    parts = []
    if case.losses is not None:
        parts.append(f"*Customer's losses:* {money(case.losses)}")
    if case.credits is not None:
        parts.append(f"*Credits issued:* {money(case.credits)}")
    return " · ".join(parts)


def resolved_notice(case: Case, event: CaseEvent, prevention: Sequence[PreventionAction],
                    update: CustomerUpdate | None, earlier: CaseLink | None, today: date) -> str:
    data = event.data or {}
    lines = [
        f":white_check_mark: {mention(event.actor)} resolved case #{case.number} "
        f"(*{escape_mrkdwn(case.customer.name)}*). Update reminders have stopped.",
        f"*Resolution*\n{_quote(event.text)}",
        f"*Root cause* ({escape_mrkdwn(str(data.get('category')))})\n{_quote(str(data.get('root_cause') or ''))}",
    ]
    if update is not None:
        lines.append(f"*Final update to the customer* ({escape_mrkdwn(update.via)})\n{_quote(update.text)}")
    lines.append("*Prevention actions* (each owner gets a DM with a Mark done button)\n"
                 + "\n".join(action_line(a, today) for a in prevention))
    if earlier is not None:
        lines.append(f":repeat: This is a recurrence of {case_link(earlier)}: the same customer and root cause "
                     f"({escape_mrkdwn(str(data.get('category')))}) within 90 days.")
    amounts = _money_line(case)
    if amounts:
        lines.append(amounts)
    lines.append(f"`/case close` closes the case; `/case reopen {case.number}` brings it back.")
    return "\n".join(lines)


def closed_notice(case: Case, event: CaseEvent) -> str:
    text = f":lock: {mention(event.actor)} closed case #{case.number}."
    if (event.data or {}).get("archive"):
        return text + (f" I am archiving this channel; `/case reopen {case.number}` from any channel brings the "
                       "case back.")
    return text + f" `/case reopen {case.number}` from any channel brings it back."


def reopened_notice(case: Case, event: CaseEvent, *, earlier_channel: str | None, unarchived: bool) -> str:
    data = event.data or {}
    why = f":\n{_quote(event.text)}" if event.text else " (no reason given)."
    lines = [f":leftwards_arrow_with_hook: {mention(event.actor)} reopened case #{case.number} "
             f"(it was {escape_mrkdwn(str(data.get('from')))}){why}"]
    if earlier_channel:
        lines.append(f"The case continues here: its earlier channel {channel_link(earlier_channel)} is archived.")
    elif unarchived:
        lines.append("I unarchived this channel for it.")
    if case.next_update_due and case.is_open:
        lines.append(f"Update reminders resume: the next customer update is due {slack_date(case.next_update_due)}.")
    return "\n".join(lines)


# ---------------------------------------------------------------- the owner's DM


def _about(case: Case) -> str:
    return f"case #{case.number} (*{escape_mrkdwn(case.customer.name)}*)"


def prevention_text(action: PreventionAction, case: Case, why: str) -> str:
    if action.status == "done":
        who = mention(action.done_by) if action.done_by else "Someone"
        when = f" {slack_date(action.done_at)}" if action.done_at else ""
        return f":white_check_mark: {who} marked this prevention action on {_about(case)} done{when}:\n" \
               + _quote(action.what)
    due = due_label(action.due_on)
    if why == "assigned" and action.created_by == action.owner_id:
        head = f":clipboard: You took on a prevention action on {_about(case)}, due {due}"
    elif why == "assigned":
        head = f":clipboard: {mention(action.created_by)} gave you a prevention action on {_about(case)}, due {due}"
    elif why == "overdue":
        head = f":warning: Your prevention action on {_about(case)} was due {due} and is not done yet"
    else:
        head = f":alarm_clock: Your prevention action on {_about(case)} is due {due}"
    return f"{head}:\n{_quote(action.what)}"


def prevention_blocks(action: PreventionAction, case: Case, why: str) -> list[Block]:
    """The DM: what, by when, and a Mark done button (gone once it is done)."""
    blocks = [section(prevention_text(action, case, why))]
    where = f"Case channel: {channel_link(case.channel_id)}" if case.channel_id else f"Case #{case.number}"
    if case.root_cause_category:
        where += f" · root cause: {escape_mrkdwn(case.root_cause_category)}"
    blocks.append(context(where))
    if action.status != "done":
        blocks.append(actions(f"prevention:{action.id}",
                              button("Mark done", PREVENTION_DONE, str(action.id), style="primary")))
    return blocks
