"""The App Home tab and its Reopen modal.

Home: the viewer's open cases (owned, asked of their department, reported), the check-ins due from them
(with the DM's buttons), their overdue prevention actions, and Reopen buttons for recently ended cases.
A Home view holds at most 100 blocks: each list shows a bounded number of entries and counts the rest.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bot.blocks.checkin import buttons as checkin_buttons
from bot.blocks.checkin import home_line as checkin_line
from bot.blocks.common import Block, button, channel_link, context, header, mention, plain, section, slack_date
from bot.domain.home import REOPEN_WINDOW, Home
from bot.text import escape_mrkdwn, truncate
from storage.models import Case

REOPEN_ACTION = "home_reopen"  # the button: value is the case number
REOPEN_VIEW = "home_reopen_reason"  # the modal's callback_id; private_metadata {"number": N}
MAX_BLOCKS = 100
REASON_MAX = 2000  # as for `/case reopen <number> <reason>`
SHOWN = {"owned": 20, "asked": 15, "reported": 10, "actions": 10, "checkins": 5}  # check-ins: 2 blocks each
USAGE = "Type `/escalate &lt;customer&gt;: &lt;what happened&gt;` anywhere · `/case help` in a case channel."


def _due(case: Case) -> str:
    if case.next_update_due is not None:
        return f"next update due {slack_date(case.next_update_due)}"
    return "updates paused (waiting on the customer)" if case.status == "waiting-on-customer" else "no update due"


def case_line(case: Case, *, owner: bool = True, extra: str = "") -> Block:
    """``*#12 · Acme* · P1 · investigating · #case-12-acme`` then the due time and the summary."""
    first = (f"*#{case.number} · {escape_mrkdwn(case.customer.name)}* · {case.severity.upper()} · {case.status} · "
             f"{channel_link(case.channel_id, '(channel not created yet)')}")
    due = _due(case)
    second = due[0].upper() + due[1:] + (f" · owner {mention(case.owner_id)}" if owner else "") + extra
    return section(f"{first}\n{second}\n{truncate(escape_mrkdwn(case.summary), 200)}")


def _more(count: int, shown: int, what: str) -> list[Block]:
    return [context(f"…and {count - shown} more {what}.")] if count > shown else []


def _days(today: date, due: date) -> str:
    days = (today - due).days
    return f"{days} day{'s' if days != 1 else ''} overdue"


def home_view(data: Home, *, today: date, is_advocate: bool = False) -> dict[str, Any]:
    blocks: list[Block] = [header("Customer advocacy"), context(USAGE)]

    def part(title: str, items: list[Block], empty: str, more: list[Block]) -> None:
        blocks.extend([{"type": "divider"}, section(f"*{title}*")])
        blocks.extend(items or [context(empty)])
        blocks.extend(more)

    owned = data.owned[:SHOWN["owned"]]
    part("Cases you own", [case_line(c, owner=False) for c in owned], "None open.",
         _more(len(data.owned), len(owned), "cases"))

    due = data.checkins_due[:SHOWN["checkins"]]
    if due or is_advocate:
        part("Check-ins due", [b for item in due for b in (checkin_line(item), checkin_buttons(item.checkin))],
             "None due.", _more(len(data.checkins_due), len(due), "check-ins"))

    asked = data.asked[:SHOWN["asked"]]
    part("Cases your department is asked on",
         [case_line(a.case, extra=" · asked: " + ", ".join(
             escape_mrkdwn(d.department) + ("" if d.answered_at is None else " (answered)") for d in a.departments))
          for a in asked],
         "None open.", _more(len(data.asked), len(asked), "cases"))

    reported = data.reported[:SHOWN["reported"]]
    part("Cases you reported", [case_line(c) for c in reported], "None open.",
         _more(len(data.reported), len(reported), "cases"))

    actions = data.overdue_actions[:SHOWN["actions"]]
    part("Your overdue prevention actions",
         [section(f":warning: {truncate(escape_mrkdwn(a.what), 1500)}\nDue {a.due_on.isoformat()} "
                  f"({_days(today, a.due_on)}) · case #{c.number} · {escape_mrkdwn(c.customer.name)} · "
                  f"{channel_link(c.channel_id, '(no channel)')}")
          for a, c in actions],
         "None overdue.", _more(len(data.overdue_actions), len(actions), "overdue actions"))

    whose = "all cases (you are an advocate)" if is_advocate else "your cases"
    part(f"Resolved or closed in the last {REOPEN_WINDOW.days} days: {whose}",
         [section(f"*#{c.number} · {escape_mrkdwn(c.customer.name)}* · {c.status} "
                  + (slack_date(c.closed_at or c.resolved_at) if (c.closed_at or c.resolved_at) else "")
                  + f" · {channel_link(c.channel_id, '(no channel)')}",
                  accessory=button("Reopen", REOPEN_ACTION, str(c.number)))
          for c in data.reopenable],
         "None.", [])
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}


def reopen_modal(number: int) -> dict[str, Any]:
    """Asks why; the submission reopens the case (``bot.resolution_flow.reopen``)."""
    return {
        "type": "modal",
        "callback_id": REOPEN_VIEW,
        "private_metadata": json.dumps({"number": number}),
        "title": plain(f"Reopen case #{number}", 24),
        "submit": plain("Reopen", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(f"Reopening brings case #{number} back as open. Say why, for the case record."),
            {"type": "input", "block_id": "reason", "label": plain("Why is it reopened?"),
             "element": {"type": "plain_text_input", "action_id": "value", "multiline": True,
                         "max_length": REASON_MAX,
                         "placeholder": plain("The customer says the refund still has not arrived")}},
        ],
    }


def reopened_view(text: str) -> dict[str, Any]:
    return {"type": "modal", "callback_id": f"{REOPEN_VIEW}_done", "title": plain("Reopen case", 24),
            "close": plain("Close", 24), "blocks": [section(text)]}
