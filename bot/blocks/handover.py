"""The handover note posted in a case channel: who owns the case now, and the state they take over.

Rendered from the database when posted (after the new owner was invited, so the mention notifies them).
"""

from __future__ import annotations

from bot.blocks.common import Block, context, mention, money, section, slack_date
from bot.text import escape_mrkdwn, truncate
from storage.models import Case, CaseEvent


def _who(event: CaseEvent) -> tuple[str, str, str]:
    data = event.data or {}
    return str(data.get("from")), str(data.get("to")), event.actor


def handover_text(case: Case, event: CaseEvent) -> str:
    """The notification: it mentions the new owner, who was invited just before."""
    before, after, _ = _who(event)
    return truncate(f":handshake: {mention(after)} now owns case #{case.number} for "
                    f"{escape_mrkdwn(case.customer.name)}, handed over from {mention(before)}.", 3000)


def _next_update(case: Case) -> str:
    if case.next_update_due is not None:
        return slack_date(case.next_update_due)
    if case.status == "waiting-on-customer":
        return "paused (waiting on the customer)"
    return "—"


def open_asks(case: Case) -> list[str]:
    """Departments asked and not answered yet, with their heads (and deputies)."""
    lines = []
    for department in case.departments:
        if department.answered_at is not None:
            continue
        people = ", ".join(mention(p) for p in dict.fromkeys([*department.heads, *(department.deputies or [])]))
        lines.append(f"• *{escape_mrkdwn(department.department)}*: {people or 'nobody listed'} "
                     f"(asked {slack_date(department.asked_at)})")
    return lines


def handover_note(case: Case, event: CaseEvent) -> list[Block]:
    before, after, by = _who(event)
    handed = f", by {mention(by)}" if by != before else ""
    reason = (event.data or {}).get("reason")
    asks = open_asks(case)
    if asks:
        asked = "*Open asks*\n" + "\n".join(asks)
    elif case.departments:
        asked = "*Open asks*\nNone: every department asked has answered."
    else:
        asked = "*Open asks*\nNo department is asked on this case."
    return [
        section(f":handshake: *Handover* — {mention(after)} now owns case #{case.number} "
                f"(from {mention(before)}{handed})."),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Status*\n{case.status}"},
                {"type": "mrkdwn", "text": f"*Severity*\n{case.severity.upper()}"},
                {"type": "mrkdwn", "text": f"*Customer*\n{truncate(escape_mrkdwn(case.customer.name), 1900)}"},
                {"type": "mrkdwn", "text": f"*Next customer update due*\n{_next_update(case)}"},
                {"type": "mrkdwn", "text": f"*Revenue at risk*\n{money(case.impact)}"},
            ],
        },
        section(truncate(asked, 2990)),
        section("*Reason*\n>" + truncate(escape_mrkdwn(str(reason)).replace("\n", "\n>"), 2900)) if reason
        else context("No reason given."),
        context(f"{mention(after)} is now the customer's single point of contact; the pinned summary shows the "
                "new owner."),
    ]
