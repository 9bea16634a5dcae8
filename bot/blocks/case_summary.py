"""The pinned case summary: what is asked of whom, and by when the customer hears from us."""

from __future__ import annotations

from bot.blocks.common import Block, context, header, mention, money, section, slack_date
from bot.text import escape_mrkdwn, truncate
from storage.models import Case


def case_title(case: Case) -> str:
    return f"Case #{case.number} · {case.customer.name}"


def summary_text(case: Case) -> str:
    """The notification text: it mentions every head, so each of them is notified once."""
    heads = " ".join(mention(h) for d in case.departments for h in d.heads)
    return truncate(
        f"{escape_mrkdwn(case_title(case))} ({case.severity.upper()}): {heads} your help is needed. "
        f"{escape_mrkdwn(case.summary)}",
        3000,
    )


def case_summary(case: Case) -> list[Block]:
    blocks: list[Block] = [
        header(case_title(case)),
        section(f"*What happened*\n{truncate(escape_mrkdwn(case.summary), 2900)}"),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Severity*\n{case.severity.upper()}"},
                {"type": "mrkdwn", "text": f"*Advocate (owner)*\n{mention(case.owner_id)}"},
                {"type": "mrkdwn", "text": f"*Revenue at risk*\n{money(case.impact)}"},
                {
                    "type": "mrkdwn",
                    "text": "*Next customer update due*\n"
                    + (slack_date(case.next_update_due) if case.next_update_due else "—"),
                },
                {"type": "mrkdwn", "text": f"*Reported by*\n{mention(case.reporter_id)}"},
                {"type": "mrkdwn", "text": f"*Status*\n{case.status}"},
            ],
        },
        {"type": "divider"},
    ]
    asks = []
    for department in case.departments:
        heads = ", ".join(mention(h) for h in department.heads)
        answered = (
            f" — answered by {mention(department.answered_by)}, {slack_date(department.answered_at)}"
            if department.answered_by and department.answered_at
            else ""
        )
        asks.append(
            f"• *{escape_mrkdwn(department.department)}*: {heads} — please look into this and reply in a "
            f"thread on this message (asked {slack_date(department.asked_at)}){answered}"
        )
    blocks.append(section("*What we need from whom*\n" + "\n".join(asks)))
    notes = [f"{mention(case.owner_id)} is the customer's single point of contact for this case."]
    if case.source_permalink:
        notes.append(f"<{case.source_permalink}|Original message>")
    blocks.append(context(*notes))
    return blocks


def case_topic(case: Case) -> str:
    """Channel topics are plain text, 250 characters at most."""
    return truncate(
        f"Case #{case.number} · {case.customer.name} · {case.severity.upper()} · {case.status} · "
        f"summary pinned",
        250,
    )
