"""The monthly stakeholder review's agenda: per department, its heads mentioned (they are asked to come
prepared), their open cases, the asks they have not answered and their overdue prevention actions."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.common import Block, channel_link, context, header, mention, section, slack_date
from bot.domain.review import DepartmentAgenda
from bot.text import escape_mrkdwn

SHOWN = 8  # cases or actions listed per department; the rest are counted


def _more(items: Sequence[object]) -> str:
    return f"\n…and {len(items) - SHOWN} more" if len(items) > SHOWN else ""


def review_text(month: str, departments: Sequence[DepartmentAgenda]) -> str:
    heads = " ".join(dict.fromkeys(mention(h) for d in departments for h in d.heads))
    return f":calendar: Stakeholder review {month}: {heads} — your open cases, asks and prevention actions."


def review_blocks(month: str, departments: Sequence[DepartmentAgenda], *, late: bool) -> list[Block]:
    blocks: list[Block] = [header(f"Stakeholder review · {month}")]
    if late:
        blocks.append(context(":hourglass: Posted late: the bot was not running at the scheduled time."))
    for department in departments:
        heads = ", ".join(mention(h) for h in department.heads)
        lines = [f"*{escape_mrkdwn(department.name)}* — {heads}"]
        if department.asks:
            lines.append(f"Open cases ({len(department.asks)}):")
            lines += [f"• #{a.number} {escape_mrkdwn(a.customer)} · {a.severity.upper()} · {a.status} "
                      f"{channel_link(a.channel_id, '')}" for a in department.asks[:SHOWN]]
            lines[-1] += _more(department.asks)
        unanswered = department.unanswered
        if unanswered:
            lines.append(f"Not answered yet ({len(unanswered)}):")
            lines += [f"• #{a.number}, asked {slack_date(a.asked_at)}" for a in unanswered[:SHOWN]]
            lines[-1] += _more(unanswered)
        if department.overdue:
            lines.append(f"Prevention actions overdue ({len(department.overdue)}):")
            lines += [f"• #{o.number}: {escape_mrkdwn(o.what)} — {mention(o.owner)}, due {o.due_on:%a %d %b}"
                      for o in department.overdue[:SHOWN]]
            lines[-1] += _more(department.overdue)
        if len(lines) == 1:
            lines.append("Nothing open. :tada:")
        blocks.append({"type": "divider"})
        blocks.append(section("\n".join(lines)))
    return blocks[:50]
