"""Messages in the case channel about the case itself: change notices, asks, nudges, the timeline.

Each is rendered from the database (an event, a department), never from a copy made when queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from bot.blocks.common import Block, context, header, mention, money, section, slack_date
from bot.text import escape_mrkdwn, truncate
from storage.models import Case, CaseDepartment, CaseEvent


def _money(value: object) -> str:
    return money(Decimal(str(value))) if value is not None else "not stated"


def notice_text(event: CaseEvent, case: Case) -> str:
    """One line in the channel saying who changed what (the timeline has the same, for the record)."""
    who, data = mention(event.actor), event.data or {}
    if event.kind == "status_changed":
        extra = " Update reminders are paused until the status changes." if data.get("to") == "waiting-on-customer" \
            else (" Update reminders resume; next update due " + slack_date(case.next_update_due) + "."
                  if data.get("from") == "waiting-on-customer" and case.next_update_due else "")
        return f":arrows_counterclockwise: {who} set the status to *{data.get('to')}* (was {data.get('from')}).{extra}"
    if event.kind == "owner_changed":
        return (f":bust_in_silhouette: {who} made {mention(str(data.get('to')))} the owner of case #{case.number} "
                f"(was {mention(str(data.get('from')))}): they are now the customer's single point of contact.")
    if event.kind == "severity_changed":
        return (f":triangular_flag_on_post: {who} set the severity to *{str(data.get('to')).upper()}* "
                f"(was {str(data.get('from')).upper()})."
                + (f" Next customer update due {slack_date(case.next_update_due)}." if case.next_update_due else ""))
    if event.kind == "impact_changed":
        return (f":moneybag: {who} set the revenue at risk to *{_money(data.get('to'))}* "
                f"(was {_money(data.get('from'))}).")
    if event.kind == "note":
        return f":memo: Note from {who}:\n>{truncate(escape_mrkdwn(event.text or ''), 2800)}"
    return f"{who}: {escape_mrkdwn(event.kind.replace('_', ' '))}"


def _people(department: CaseDepartment) -> str:
    return " ".join(mention(p) for p in dict.fromkeys([*department.heads, *(department.deputies or [])]))


def ask_text(case: Case, department: CaseDepartment) -> str:
    """A new message (an edit would notify nobody) asking a department added later."""
    return (f":wave: {_people(department)} — case #{case.number} for *{escape_mrkdwn(case.customer.name)}* "
            f"({case.severity.upper()}) needs *{escape_mrkdwn(department.department)}*: "
            f"{truncate(escape_mrkdwn(case.summary), 1500)}\nPlease reply in a thread on this message.")


def nudge_text(case: Case, department: CaseDepartment) -> str:
    return (f":bell: {_people(department)} — *{escape_mrkdwn(department.department)}* has not answered on case "
            f"#{case.number} since it was asked {slack_date(department.asked_at)}. "
            f"{mention(case.owner_id)} is waiting to update the customer; a reply in this thread is enough.")


_LABELS = {
    "opened": "opened the case", "message": "wrote", "customer_update": "updated the customer",
    "note": "added a note", "key_moment": "marked a key moment", "status_changed": "changed the status",
    "owner_changed": "changed the owner", "severity_changed": "changed the severity",
    "impact_changed": "changed the revenue at risk", "department_added": "asked another department",
    "department_responded": "answered for", "department_nudged": "nudged", "report_added": "added a report",
    "cadence_changed": "changed the update cadence", "resolved": "resolved the case", "closed": "closed the case",
    "reopened": "reopened the case", "handover": "handed the case over",
    "recurrence": "found this a recurrence", "recurred": "found it recurred", "prevention_done":
    "finished a prevention action", "prevention_reminded": "reminded a prevention action's owner",
    "channel_created": "created the channel", "channel_archived": "archived the channel",
    "channel_unarchived": "unarchived the channel", "channel_replaced": "moved the case to a new channel",
    "invited": "invited people", "summary_posted": "posted the summary", "reminder_posted": "posted a reminder",
    "reminder_snoozed": "snoozed the reminder", "customer_forgotten": "erased the customer's name and texts",
}


def _line(event: CaseEvent) -> str:
    who = "advocacy-bot" if event.actor == "bot" else mention(event.actor)
    data = event.data or {}
    what = _LABELS.get(event.kind, event.kind.replace("_", " "))
    if event.kind == "department_responded":
        what += " " + ", ".join(escape_mrkdwn(str(d)) for d in data.get("departments") or [])
    elif event.kind == "department_nudged":
        what += " " + escape_mrkdwn(str(data.get("department")))
    elif "to" in data and event.kind.endswith("_changed"):
        what += f" to {escape_mrkdwn(str(data['to']))}"
    line = f"{slack_date(event.at)} · {who} {what}"
    if event.text:
        quoted = truncate(escape_mrkdwn(event.text.replace("\n", " ")), 200)
        line += f": “{quoted}”" if not event.deleted else f" (deleted): “{quoted}”"
    if event.permalink:
        line += f" <{event.permalink}|link>"
    return line


def timeline_blocks(case: Case, events: Sequence[CaseEvent]) -> list[Block]:
    """``/case timeline``: the last events, oldest first, in one ephemeral message."""
    blocks: list[Block] = [header(f"Case #{case.number} · timeline"[:150])]
    lines = [_line(e) for e in events]
    chunk: list[str] = []
    for line in lines:  # sections hold 3,000 characters: split the lines across as many as needed
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    blocks.append(context(f"The last {len(events)} events. `advocacy-bot export cases` has the whole record."))
    return blocks[:50]
