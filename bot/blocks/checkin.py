"""Check-ins in Slack: the advocate's DM, the Log check-in and Skip forms, and the App Home lines.

The DM is rendered from the database each time (posted, then updated when answered, snoozed or
cancelled): the customer's context, a suggested contact time inside their preferred hours, and the
buttons while the check-in is open. User text is escaped.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.common import Block, actions, button, channel_link, context, mention, plain, section, slack_date
from bot.domain.checkins import (
    FOLLOW_UP,
    HOW,
    REASON_MAX,
    TEXT_MAX,
    CaseRef,
    CheckInLog,
    Due,
    PromptContext,
)
from bot.domain.contact_hours import format_contact_hours
from bot.text import escape_mrkdwn, truncate
from storage.models import CheckIn

LOG, SNOOZE, SKIP = "checkin_log", "checkin_snooze", "checkin_skip"  # buttons: value = the check-in id
LOG_VIEW, SKIP_VIEW = "checkin_log_form", "checkin_skip_form"  # private_metadata {"checkin": id, "home": bool}
NPS_LABEL = "How likely is the customer to recommend us? (NPS, 0–10)"
CSAT_LABEL = "How satisfied is the customer? (CSAT, 1–5)"
ESCALATE = "escalate"  # the checkbox option's value


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """``Tue 24 Nov 10:00 (America/New_York)``: spelled out, since ``slack_date`` shows the reader's zone."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b} {local:%H:%M} ({zone.key})"


def _case(ref: CaseRef, *, resolved: bool = False) -> str:
    where = f" {channel_link(ref.channel_id)}" if ref.channel_id else ""
    when = f", resolved {slack_date(ref.resolved_at)}" if resolved and ref.resolved_at else ""
    return f"#{ref.number}{where} ({escape_mrkdwn(ref.status)}{when}): {truncate(escape_mrkdwn(ref.summary), 120)}"


def _cases(refs: tuple[CaseRef, ...], count: int, *, resolved: bool = False) -> str:
    if not refs:
        return "none"
    lines = "\n".join(f"• {_case(r, resolved=resolved)}" for r in refs)
    return lines + (f"\n…and {count - len(refs)} more" if count > len(refs) else "")


def _scores(nps: int | None, csat: int | None) -> str:
    parts = ([f"NPS {nps}/10"] if nps is not None else []) + ([f"CSAT {csat}/5"] if csat is not None else [])
    return ", ".join(parts) or "no scores"


def _last(ctx: PromptContext) -> str:
    last = ctx.last
    if last is None:
        return "none yet"
    who = f" by {mention(last.by)}" if last.by else ""
    if last.status == "skipped":
        return f"skipped {slack_date(last.at)}{who}: {truncate(escape_mrkdwn(last.reason or ''), 200)}"
    how = f" ({HOW.get(last.how or '', last.how or 'check-in').lower()})" if last.how else ""
    return f"{slack_date(last.at)}{who}{how}: {_scores(last.nps, last.csat)}"


def prompt_text(ctx: PromptContext) -> str:
    """The first line, which is also the notification."""
    name = f"*{escape_mrkdwn(ctx.customer.name)}*"
    if ctx.checkin.kind == FOLLOW_UP:
        number = f" #{ctx.case.number}" if ctx.case else ""
        return f":wave: Time to follow up with {name}: did the fix for case{number} hold?"
    return f":wave: Time to check in with {name} (due {slack_date(ctx.checkin.due_at)})."


def suggestion(suggested: datetime, ctx: PromptContext) -> str:
    hours = f", within their preferred hours {escape_mrkdwn(format_contact_hours(ctx.preferred))}" \
        if ctx.preferred else ""
    return (f":calendar: *Suggested time to reach them:* {local_time(suggested, ctx.customer_zone)} their time"
            f"{hours} — {slack_date(suggested)} your time.")


def outcome(ctx: PromptContext) -> str:
    checkin = ctx.checkin
    if checkin.status == "done" and checkin.done_at is not None:
        said = ctx.feedback
        how = f" ({HOW.get(said.channel or '', said.channel or '').lower()})" if said and said.channel else ""
        line = (f":white_check_mark: {mention(checkin.done_by or 'someone')} logged this check-in{how} "
                f"{slack_date(checkin.done_at)}: {_scores(said.nps if said else None, said.csat if said else None)}.")
        if ctx.escalation is not None:
            line += f" Case {_case(ctx.escalation)} was opened from it."
        return line
    if checkin.status == "skipped" and checkin.done_at is not None:
        return (f":fast_forward: {mention(checkin.done_by or 'someone')} skipped this check-in "
                f"{slack_date(checkin.done_at)}: {truncate(escape_mrkdwn(checkin.skip_reason or ''), 500)}")
    if checkin.status == "cancelled":
        return f":heavy_minus_sign: No longer needed: {escape_mrkdwn(checkin.skip_reason or 'cancelled')}."
    if checkin.status == "scheduled" and checkin.snoozed_until is not None:
        return (f":zzz: Snoozed until {slack_date(checkin.snoozed_until)}; I will ask again then "
                f"(it stays due {slack_date(checkin.due_at)}).")
    return ""


def buttons(checkin: CheckIn) -> Block:
    value = str(checkin.id)
    return actions(f"checkin:{checkin.id}", button("Log check-in", LOG, value, style="primary"),
                   button("Snooze a week", SNOOZE, value), button("Skip", SKIP, value))


def prompt_blocks(ctx: PromptContext, suggested: datetime | None) -> list[Block]:
    """The DM: who, their context, when to reach them, and the buttons while the check-in is open."""
    customer = ctx.customer
    blocks: list[Block] = [section(prompt_text(ctx))]
    if ctx.checkin.kind == FOLLOW_UP and ctx.case is not None:
        resolution = truncate(escape_mrkdwn(ctx.case.resolution or ""), 500).replace("\n", "\n>")
        blocks.append(section(f"Case {_case(ctx.case, resolved=True)}\n>{resolution}"))
    tier = escape_mrkdwn(customer.tier or "no tier")
    blocks.append(section(
        f"*Tier:* {tier} · *Status:* {escape_mrkdwn(customer.status)}\n"
        f"*Open cases:* {_cases(ctx.open_cases, ctx.open_count)}\n"
        f"*Resolved in the last 90 days:* {_cases(ctx.resolved, ctx.resolved_count, resolved=True)}\n"
        f"*Last check-in:* {_last(ctx)}"))
    if suggested is not None:
        blocks.append(section(suggestion(suggested, ctx)))
    state = outcome(ctx)
    if state:
        blocks.append(section(state))
    if ctx.checkin.status in ("scheduled", "prompted"):
        blocks.append(buttons(ctx.checkin))
        blocks.append(context("Log it once you have talked to them; Snooze asks again in a week; Skip asks why."))
    return blocks


# ---------------------------------------------------------------- the forms


def _metadata(checkin_id: int, home: bool) -> str:
    return json.dumps({"checkin": checkin_id, "home": home})


def form_target(view: dict[str, Any]) -> tuple[int | None, bool]:
    """(check-in id, opened from the App Home) from a form's private_metadata."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
        return int(data["checkin"]), bool(data.get("home"))
    except (KeyError, TypeError, ValueError):
        return None, False


def _text_input(block_id: str, label: str, *, optional: bool = True, hint: str | None = None) -> Block:
    block: Block = {"type": "input", "block_id": block_id, "optional": optional, "label": plain(label),
                    "element": {"type": "plain_text_input", "action_id": "value", "multiline": True,
                                "max_length": TEXT_MAX}}
    if hint:
        block["element"]["placeholder"] = plain(hint)
    return block


def _score_input(block_id: str, label: str, low: int, high: int) -> Block:
    return {"type": "input", "block_id": block_id, "optional": True, "label": plain(label, 2000),
            "element": {"type": "number_input", "action_id": "value", "is_decimal_allowed": False,
                        "min_value": str(low), "max_value": str(high)}}


def log_modal(checkin_id: int, customer: str, *, home: bool = False) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": LOG_VIEW,
        "private_metadata": _metadata(checkin_id, home),
        "title": plain("Log check-in", 24),
        "submit": plain("Log", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            context(f"Your check-in with *{escape_mrkdwn(customer)}*: what they said is kept as their feedback."),
            {"type": "input", "block_id": "how", "label": plain("How did you talk?"),
             "element": {"type": "static_select", "action_id": "value", "placeholder": plain("Choose"),
                         "options": [{"text": plain(label), "value": key} for key, label in HOW.items()]}},
            _text_input("problems", "Problems they raised", hint="Anything not working for them"),
            _text_input("feedback", "Their feedback", hint="What they said, in their words"),
            _score_input("nps", NPS_LABEL, 0, 10),
            _score_input("csat", CSAT_LABEL, 1, 5),
            {"type": "input", "block_id": "escalate", "optional": True, "label": plain("Follow-up"),
             "element": {"type": "checkboxes", "action_id": "value", "options": [
                 {"text": plain("Open an escalation from this"), "value": ESCALATE}]}},
        ],
    }


def _value(values: dict[str, Any], block: str) -> dict[str, Any]:
    return (values.get(block) or {}).get("value") or {}


def _score(raw: object, low: int, high: int, what: str) -> tuple[int | None, str | None]:
    text = str(raw or "").strip()
    if not text:
        return None, None
    try:
        number = int(text)
    except ValueError:
        return None, f"{what} is a whole number from {low} to {high}."
    if not low <= number <= high:
        return None, f"{what} is from {low} to {high}; {number} is out of range."
    return number, None


def read_log_modal(view: dict[str, Any]) -> tuple[CheckInLog | None, dict[str, str]]:
    """The form's values, or errors keyed by block (shown beside the inputs)."""
    values = (view.get("state") or {}).get("values") or {}
    errors: dict[str, str] = {}
    how = str((_value(values, "how").get("selected_option") or {}).get("value") or "")
    if how not in HOW:
        errors["how"] = "Say how you talked: call, meeting, email or chat."
    texts = {}
    for block in ("problems", "feedback"):
        texts[block] = str(_value(values, block).get("value") or "").strip()
        if len(texts[block]) > TEXT_MAX:
            errors[block] = f"Keep this under {TEXT_MAX} characters."
    nps, problem = _score(_value(values, "nps").get("value"), 0, 10, "NPS")
    if problem:
        errors["nps"] = problem
    csat, problem = _score(_value(values, "csat").get("value"), 1, 5, "CSAT")
    if problem:
        errors["csat"] = problem
    ticked = {o.get("value") for o in _value(values, "escalate").get("selected_options") or []}
    if errors:
        return None, errors
    return CheckInLog(how=how, problems=texts["problems"], feedback=texts["feedback"], nps=nps, csat=csat,
                      escalate=ESCALATE in ticked), {}


def skip_modal(checkin_id: int, customer: str, *, home: bool = False) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": SKIP_VIEW,
        "private_metadata": _metadata(checkin_id, home),
        "title": plain("Skip check-in", 24),
        "submit": plain("Skip", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            context(f"Skipping the check-in with *{escape_mrkdwn(customer)}*; the next one follows one cadence "
                    "from now."),
            {"type": "input", "block_id": "reason", "label": plain("Why is it skipped?"),
             "element": {"type": "plain_text_input", "action_id": "value", "multiline": True,
                         "max_length": REASON_MAX,
                         "placeholder": plain("We met them at the quarterly review last week")}},
        ],
    }


def read_skip_reason(view: dict[str, Any]) -> tuple[str, dict[str, str]]:
    values = (view.get("state") or {}).get("values") or {}
    reason = str(_value(values, "reason").get("value") or "").strip()
    if not reason:
        return "", {"reason": "Say why the check-in is skipped."}
    if len(reason) > REASON_MAX:
        return "", {"reason": f"Keep the reason under {REASON_MAX} characters."}
    return reason, {}


def answered_view(title: str, text: str) -> dict[str, Any]:
    return {"type": "modal", "callback_id": f"{LOG_VIEW}_done", "title": plain(title, 24),
            "close": plain("Close", 24), "blocks": [section(text)]}


# ---------------------------------------------------------------- the App Home


def home_line(item: Due) -> Block:
    """``*Acme* · strategic · check-in due <date> (3 days overdue)``, and a snooze if there is one."""
    checkin, customer = item.checkin, item.customer
    what = (f"follow-up on case #{item.case_number}" if checkin.kind == FOLLOW_UP and item.case_number
            else "follow-up" if checkin.kind == FOLLOW_UP else "check-in")
    days = item.days_overdue
    late = f" ({days} day{'s' if days != 1 else ''} overdue)" if days >= 1 else ""
    state = (f" · snoozed until {slack_date(checkin.snoozed_until)}"
             if checkin.status == "scheduled" and checkin.snoozed_until else "")
    return section(f"*{escape_mrkdwn(customer.name)}* · {escape_mrkdwn(customer.tier or 'no tier')} · {what} due "
                   f"{slack_date(checkin.due_at)}{late}{state}")
