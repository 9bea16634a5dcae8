"""The weekly digest in Block Kit: each figure with its change from the week before, the top cases by
impact with links, and what needs leadership's attention. Rendered from ``bot.domain.digest`` data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.blocks.common import Block, channel_link, context, header, section
from bot.text import escape_mrkdwn


def _delta(now: Any, before: Any, unit: str = "", *, digits: int = 0, money: bool = False) -> str:
    """The change from the week before: ``▲ +3``, ``▼ -5%`` (ratios in points), ``▲ +$1,200``; ``(=)`` when
    unchanged; nothing when either week has no figure (no answers, nothing due)."""
    if money:
        now, before = float(Decimal(now)), float(Decimal(before))
    if not isinstance(now, int | float) or not isinstance(before, int | float) or now == before:
        return " (=)" if now == before and now is not None else ""
    arrow = ":arrow_up_small:" if now > before else ":arrow_down_small:"
    change = (now - before) * (100 if unit == "%" else 1)
    if money:
        return f" {arrow} {'+' if change > 0 else '-'}${abs(change):,.0f}"
    return f" {arrow} {change:+.{digits}f}{unit}"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _pct(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.0%}"


def _money(text: str) -> str:
    return f"${Decimal(text):,.0f}"


def _field(title: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{title}*\n{value}"}


def digest_text(data: dict[str, Any]) -> str:
    """The notification text: the headline figures."""
    return (f"Customer advocacy {data['week']}: {data['cases_opened']} cases opened, {data['cases_resolved']} "
            f"resolved, {data['open_at_end']} open; NPS {data['nps']['score']} (n {data['nps']['n']}); "
            f"updates on time {_pct(data['update_compliance']['ratio'])}")


def digest_blocks(data: dict[str, Any], *, late: bool = False, so_far: bool = False) -> list[Block]:
    prev = data["previous"]
    nps, csat, comp = data["nps"], data["csat"], data["update_compliance"]
    ttr, ret, rec = data["time_to_resolution_hours"], data["retention"], data["recurrence"]
    overdue, checkins = data["prevention_overdue"], data["checkins"]
    prev_ttr, prev_ret = prev["time_to_resolution_hours"], prev["retention"]
    title = f"Customer advocacy · {data['week']}" + (" (so far)" if so_far else "")
    blocks: list[Block] = [header(title)]
    if late:
        blocks.append(context(":hourglass: Posted late: the bot was not running at the scheduled time."))
    blocks.append({"type": "section", "fields": [
        _field("Cases opened", f"{data['cases_opened']}{_delta(data['cases_opened'], prev['cases_opened'])}"),
        _field("Cases resolved", f"{data['cases_resolved']}{_delta(data['cases_resolved'], prev['cases_resolved'])}"),
        _field("Open at the end", f"{data['open_at_end']}{_delta(data['open_at_end'], prev['open_at_end'])}"),
        _field("Time to resolution", f"p50 {_hours(ttr['p50'])} h"
                                     f"{_delta(ttr['p50'], prev_ttr['p50'], ' h', digits=1)}"
                                     f" · p90 {_hours(ttr['p90'])} h"
                                     f"{_delta(ttr['p90'], prev_ttr['p90'], ' h', digits=1)} (n {ttr['n']})"),
        # "Overdue now" has no change: it is the current state of the open cases (their next update due),
        # which keeps no history, so the week before has no such figure to compare with.
        _field("Updates on time", f"{_pct(comp['ratio'])} ({comp['on_time']}/{comp['due']})"
                                  f"{_delta(comp['ratio'], prev['update_compliance']['ratio'], '%')} · "
                                  f"overdue now {data['updates_overdue_now']}"),
        _field("NPS", f"{nps['score'] if nps['score'] is not None else '—'}{_delta(nps['score'], prev['nps']['score'])}"
                      f" (n {nps['n']}{_delta(nps['n'], prev['nps']['n'])})"),
        _field("CSAT", f"{str(csat['score']) + '%' if csat['score'] is not None else '—'}"
                       f"{_delta(csat['score'], prev['csat']['score'])}"
                       f" (n {csat['n']}{_delta(csat['n'], prev['csat']['n'])})"),
        _field("Check-ins", f"{checkins['done']} done{_delta(checkins['done'], prev['checkins']['done'])} of "
                            f"{checkins['due']} due{_delta(checkins['due'], prev['checkins']['due'])}"),
        _field("Retention", f"{_pct(ret['ratio'])}{_delta(ret['ratio'], prev_ret['ratio'], '%')} of "
                            f"{ret['active_at_start']}{_delta(ret['active_at_start'], prev_ret['active_at_start'])} · "
                            f"{ret['churned']} churned{_delta(ret['churned'], prev_ret['churned'])} · "
                            f"{ret['turned_at_risk']} turned at-risk"
                            f"{_delta(ret['turned_at_risk'], prev_ret['turned_at_risk'])}"),
        _field("Recurrence", f"{_pct(rec['ratio'])}{_delta(rec['ratio'], prev['recurrence']['ratio'], '%')} "
                             f"({rec['recurrences']}/{rec['resolved']}) · prevention overdue {overdue}"
                             f"{_delta(overdue, prev['prevention_overdue'])}"),
    ]})
    breakdown = _breakdown(data)
    if breakdown:
        blocks.append(section(breakdown))
    blocks.append(section(
        f"*Revenue at risk* {_money(data['revenue_at_risk'])} in open cases"
        f"{_delta(data['revenue_at_risk'], prev['revenue_at_risk'], money=True)} · credits issued "
        f"{_money(data['credits_issued'])}{_delta(data['credits_issued'], prev['credits_issued'], money=True)}"))
    if data["top_cases"]:
        blocks.append(section("*Top cases by impact*\n" + "\n".join(
            f"• {_case(c)} {_money(c['impact'])}" for c in data["top_cases"])))
    items = _attention(data["attention"])
    if items:
        blocks.append(section(":rotating_light: *Needs leadership attention*\n" + "\n".join(f"• {i}" for i in items)))
    blocks.append(context("Each figure's definition is in the README; `advocacy-bot digest --week "
                          f"{data['week']} --format json` has the arithmetic."))
    return blocks


def _case(case: dict[str, Any]) -> str:
    return (f"#{case['number']} {channel_link(case['channel_id'], '')} {escape_mrkdwn(case['customer'])} "
            f"({case['severity'].upper()})")


def _breakdown(data: dict[str, Any]) -> str:
    """Opened / resolved / open per severity and per department, with each department's median first response,
    each with its change (a group absent the week before had none of it; a median it lacked shows no change)."""
    previous = data["previous"]
    lines = []
    for title, key in (("By severity", "by_severity"), ("By department", "by_department")):
        for name, group in data[key].items():
            before = previous[key].get(name, {})
            response = data["first_response_hours"].get(name) if key == "by_department" else None
            response_before = previous["first_response_hours"].get(name, {}).get("p50")
            lines.append(f"*{escape_mrkdwn(name)}* ({title.split()[-1]}): opened {group['opened']}"
                         f"{_delta(group['opened'], before.get('opened', 0))} · resolved {group['resolved']}"
                         f"{_delta(group['resolved'], before.get('resolved', 0))} · "
                         f"open {group['open_at_end']}{_delta(group['open_at_end'], before.get('open_at_end', 0))}"
                         + (f" · first response p50 {response['p50']:.1f} h"
                            f"{_delta(response['p50'], response_before, ' h', digits=1)} (n {response['n']})"
                            if response else ""))
    return "\n".join(lines)


def _attention(attention: dict[str, Any]) -> list[str]:
    return [
        *(f"P1 open too long: {_case(c)}" for c in attention["p1_open_long"]),
        *(f"Customer update escalated to leadership: {_case(c)}" for c in attention["escalated_to_leadership"]),
        *(f"Detractor: {escape_mrkdwn(d['customer'])} (NPS {d['nps']})" for d in attention["detractors"]),
        *(f"{escape_mrkdwn(t['customer'])} turned {t['status']}" for t in attention["customers_turned"]),
    ]
