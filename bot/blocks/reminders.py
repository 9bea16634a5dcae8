"""Reminder messages: the heads-up, the overdue reminder, the escalation to advocates, the leadership line.

Each is re-rendered from the reminder row, so once answered it shows who did what instead of buttons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.case_summary import case_title
from bot.blocks.common import Block, actions, button, channel_link, context, mention, section, slack_date
from bot.blocks.common import plain as plain_text
from bot.text import escape_mrkdwn, truncate
from storage.models import Case, CustomerUpdate, Reminder

LOG_UPDATE, SNOOZE_HOUR, SNOOZE_TOMORROW = "reminder_log_update", "reminder_snooze_1h", "reminder_snooze_tomorrow"
LOG_UPDATE_VIEW = "log_update"
VIA_LABELS = {"email": "Email", "call": "Phone call", "chat": "Chat", "meeting": "Meeting", "other": "Other"}


def _since(case: Case, reminder: Reminder) -> str:
    if reminder.answered_at is not None:  # re-rendered after the answer: the outcome line says what happened
        return ""
    if case.last_customer_update_at:
        return f" (last update {slack_date(case.last_customer_update_at)})"
    return f" (no update yet since the case was opened {slack_date(case.created_at)})"


def reminder_text(reminder: Reminder, case: Case, advocates: Sequence[str]) -> str:
    """The message text (and notification): who must act, what is due and since when."""
    customer = f"*{escape_mrkdwn(case.customer.name)}* (case #{case.number})"
    due = slack_date(reminder.due_at)
    if reminder.step == "leadership":
        return (f":rotating_light: {escape_mrkdwn(case_title(case))} ({case.severity.upper()}): the customer "
                f"update due {due} is still not made — owner {mention(case.owner_id)}, {channel_link(case.channel_id)}")
    if reminder.step == "escalate":
        team = " ".join(mention(a) for a in advocates if a != case.owner_id) or mention(case.owner_id)
        return (f":rotating_light: {team} the customer update for {customer} is overdue since {due}"
                f"{_since(case, reminder)}. Owner: {mention(case.owner_id)}.")
    if reminder.step == "heads_up" or (reminder.step == "repeat" and reminder.fire_at < reminder.due_at):
        return (f":hourglass_flowing_sand: {mention(case.owner_id)} a customer update for {customer} is due "
                f"{due}{_since(case, reminder)}.")
    return (f":alarm_clock: {mention(case.owner_id)} the customer update for {customer} is overdue since {due}"
            f"{_since(case, reminder)}.")


def _outcome(reminder: Reminder, update: CustomerUpdate | None) -> str:
    if reminder.answer == "snoozed" and reminder.snoozed_until and reminder.answered_by:
        return (f":zzz: {mention(reminder.answered_by)} snoozed this reminder until "
                f"{slack_date(reminder.snoozed_until)} (the update stays due {slack_date(reminder.due_at)}).")
    if reminder.answer == "updated" and reminder.answered_by and reminder.answered_at:
        how = f" by {VIA_LABELS.get(update.via, update.via).lower()}" if update and update.via in VIA_LABELS else ""
        return (f":white_check_mark: {mention(reminder.answered_by)} updated the customer{how} "
                f"{slack_date(reminder.answered_at)}.")
    return ""


def reminder_blocks(reminder: Reminder, case: Case, advocates: Sequence[str],
                    update: CustomerUpdate | None = None) -> list[Block]:
    blocks = [section(reminder_text(reminder, case, advocates))]
    if reminder.step == "leadership":
        return blocks
    outcome = _outcome(reminder, update)
    if outcome:
        blocks.append(context(outcome))
        return blocks
    value = str(reminder.id)
    blocks.append(actions(f"reminder:{reminder.id}",
                          button("Log update", LOG_UPDATE, value, style="primary"),
                          button("Snooze 1h", SNOOZE_HOUR, value),
                          button("Snooze until tomorrow", SNOOZE_TOMORROW, value)))
    blocks.append(context("The owner or an advocate can react :white_check_mark: once the customer was updated, "
                          "or :zzz: to snooze an hour."))
    return blocks


def log_update_modal(case: Case, metadata: str) -> dict[str, Any]:
    """What was the customer told, and how: recorded as a customer update (the cadence restarts)."""
    return {
        "type": "modal",
        "callback_id": LOG_UPDATE_VIEW,
        "private_metadata": metadata,
        "title": plain_text("Log customer update", 24),
        "submit": plain_text("Log update"),
        "close": plain_text("Cancel"),
        "blocks": [
            context(f"{escape_mrkdwn(case_title(case))}: the next update will be due one cadence after this one."),
            {"type": "input", "block_id": "text", "label": plain_text("What did you tell the customer?"),
             "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": 3000}},
            {"type": "input", "block_id": "via", "label": plain_text("Via"),
             "element": {"type": "static_select", "action_id": "value",
                         "initial_option": {"text": plain_text(VIA_LABELS["email"]), "value": "email"},
                         "options": [{"text": plain_text(label), "value": key} for key, label in VIA_LABELS.items()]}},
        ],
    }


def update_posted(update: CustomerUpdate, case: Case) -> str:
    """The channel's record of a customer update, with the next due time."""
    via = f" ({VIA_LABELS[update.via].lower()})" if update.via in VIA_LABELS else ""
    said = f"\n>{truncate(escape_mrkdwn(update.text), 2500)}" if update.text else ""
    due = f" Next update due {slack_date(case.next_update_due)}." if case.next_update_due else ""
    return f":mega: {mention(update.by)} updated the customer{via}.{said}\n{due}".rstrip()
