"""The pinned case summary: what is asked of whom, and by when the customer hears from us.

Once resolved it also says how the case ended (resolution, root cause, prevention actions and their
state); recurrence links and earlier channels show whenever there are any (``SummaryContext``).
"""

from __future__ import annotations

from bot.blocks.common import Block, channel_link, context, header, mention, money, section, slack_date
from bot.blocks.prevention import action_line, case_link
from bot.domain.resolution import SummaryContext
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


def _resolution(case: Case) -> Block:
    lines = ["*Resolution*" + (f" ({slack_date(case.resolved_at)})" if case.resolved_at else ""),
             truncate(escape_mrkdwn(case.resolution or "—"), 1200),
             f"*Root cause* ({escape_mrkdwn(case.root_cause_category or 'not categorised')})",
             truncate(escape_mrkdwn(case.root_cause or "—"), 1200)]
    amounts = [f"customer's losses {money(case.losses)}" if case.losses is not None else "",
               f"credits issued {money(case.credits)}" if case.credits is not None else ""]
    if any(amounts):
        lines.append("*Money*: " + ", ".join(a for a in amounts if a))
    return section("\n".join(lines))


def _links(case: Case, more: SummaryContext) -> list[str]:
    links = []
    if more.recurrence_of is not None:
        links.append(f":repeat: Recurrence of {case_link(more.recurrence_of)}: same customer and root cause "
                     "within 90 days")
    for later in more.recurred_in:
        links.append(f":repeat: Recurred in {case_link(later)}")
    for channel_id, name in more.earlier_channels:
        links.append(f":file_cabinet: Earlier channel: {channel_link(channel_id, '#' + str(name))} (archived)")
    return links


def case_summary(case: Case, more: SummaryContext | None = None) -> list[Block]:
    """``more``: from ``bot.domain.resolution.summary_context`` (None for a case never resolved)."""
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
        ask = " — please look into this and reply in a thread on this message" if case.is_open else ""
        asks.append(
            f"• *{escape_mrkdwn(department.department)}*: {heads}{ask} "
            f"(asked {slack_date(department.asked_at)}){answered}"
        )
    title = "*What we need from whom*" if case.is_open else "*Departments asked*"  # an ended case asks nothing
    blocks.append(section(title + "\n" + "\n".join(asks)))
    if case.status in ("resolved", "closed"):
        blocks.append(_resolution(case))
    if more is not None and more.actions:
        lines = [action_line(a, more.today, 200) for a in more.actions[:12]]
        if len(more.actions) > 12:
            lines.append(f"… and {len(more.actions) - 12} more")
        blocks.append(section("*Prevention actions*\n" + "\n".join(lines)))
    if more is not None:
        links = _links(case, more)
        if links:
            blocks.append(section("\n".join(links)))
    notes = [f"{mention(case.owner_id)} is the customer's single point of contact for this case."]
    if case.source_permalink:
        notes.append(f"<{case.source_permalink}|Original message>")
    blocks.append(context(*notes))
    return blocks


def case_topic(case: Case) -> str:
    """250 characters at most. Slack shows no formatting in a topic, but keeps it in the escaped form of
    message text (a topic people type is stored with ``&lt;``, and ``<…>`` in it are mentions and links):
    the customer's name is escaped, so that a customer called ``<!channel>`` is no broadcast there."""
    return truncate(
        f"Case #{case.number} · {escape_mrkdwn(case.customer.name)} · {case.severity.upper()} · {case.status} · "
        f"summary pinned",
        250,
    )
