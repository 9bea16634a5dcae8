"""Messages to the person who escalated: links, choices, failures. User text is escaped here."""

from __future__ import annotations

from bot.blocks.common import Block, actions, button, channel_link, context, mention, section
from bot.text import escape_mrkdwn, truncate
from storage.models import Case


def case_opened_reply(case: Case) -> str:
    departments = ", ".join(escape_mrkdwn(d.department) for d in case.departments)
    return (
        f":white_check_mark: Case #{case.number} for *{escape_mrkdwn(case.customer.name)}* is open in "
        f"{channel_link(case.channel_id)}. Owner: {mention(case.owner_id)}; asked: {departments}."
    )


def report_added_reply(case: Case) -> str:
    return (
        f":white_check_mark: Your report is in {channel_link(case.channel_id)} "
        f"(case #{case.number}, {escape_mrkdwn(case.customer.name)})."
    )


def escalating_ack(customer: str) -> str:
    return f":hourglass_flowing_sand: Escalating for *{escape_mrkdwn(customer)}*…"


def record_failed_reply(error: str) -> str:
    return f":x: I could not record your escalation ({error}). Nothing was created; please try again."


def setup_failed_dm(case: Case, step: str, error: str) -> str:
    return (
        f":warning: Case #{case.number} ({escape_mrkdwn(case.customer.name)}) is recorded, but I could not "
        f"{step}: {error}. "
        + (f"The case channel is {channel_link(case.channel_id)}. " if case.channel_id else "")
        + "Please check my permissions in Slack, or do this step by hand."
    )


def open_case_choice(case: Case, draft_id: str, summary: str) -> list[Block]:
    """The customer already has an open case: add this report to it, or open a new one anyway."""
    channel = channel_link(case.channel_id, f"case #{case.number}")
    return [
        section(
            f"*{escape_mrkdwn(case.customer.name)}* already has an open case: {channel} "
            f"(#{case.number}, {case.severity.upper()}, owner {mention(case.owner_id)})."
        ),
        context(f"Your report: {truncate(escape_mrkdwn(summary), 300)}"),
        actions(
            "escalation_choice",
            button(
                f"Add to #{case.channel_name or f'case-{case.number}'}"[:75],
                "escalation_add_to_case",
                f"{draft_id}:{case.id}",
                style="primary",
            ),
            button("Open a new case", "escalation_open_new", draft_id),
        ),
    ]


def usage_text(severities: list[str], departments: list[str]) -> str:
    return (
        "*Usage:* `/escalate &lt;customer&gt;: &lt;what happened&gt;` — anywhere in the text you may add a severity "
        f"({', '.join(severities)}), departments ({', '.join('+' + d for d in departments)}) and the "
        "revenue at risk ($12k). Type `/escalate` alone to fill in a form."
    )


def case_help() -> str:
    return (
        "*`/case` — in a case channel*\n"
        "• `/case update <what the customer was told>` — record a customer update (the cadence restarts)\n"
        "• `/case cadence <duration>` — the update cadence agreed with the customer, e.g. `4h`, `1d`\n"
        "• `/case status new|investigating|waiting-on-customer` — waiting pauses update reminders\n"
        "• `/case owner @name` · `/case severity p1` · `/case impact $12k` — change the case\n"
        "• `/case add +department` — invite a department's heads and ask them\n"
        "• `/case note <text>` — add a note to the timeline\n"
        "• `/case timeline` — the last 20 events (only you see them)\n"
        "• `/case resolve` — resolution, root cause, final customer update and prevention actions\n"
        "• `/case close` — close a resolved case · `/case reopen <number> [reason]` — from any channel\n"
        "• `/case help` — this help\n"
        "Reminders in the channel take a :white_check_mark: (customer updated) or :zzz: (snooze 1h) "
        "from the owner or an advocate. A :pushpin: marks a key moment. In threads, use the message "
        "shortcut *Log as customer update*."
    )
