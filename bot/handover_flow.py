"""``/advocacy handover @from @to [--reason text]``: one advocate's open cases to another, in one transaction.

Parsing and authorization happen before the transaction (the advocates list may ask Slack to expand user
groups, cached for minutes); the handover itself is one short transaction run before the ack. Invites,
notes and summaries are outbox rows run after it (``jobs/handover.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.blocks.common import channel_link, mention
from bot.domain import handover as domain
from bot.escalation_flow import advocates
from bot.flow import FlowError
from bot.services import Services
from bot.text import escape_mrkdwn, truncate, unescape_slack

USAGE = "`/advocacy handover @from @to [--reason text]`"
REASON_MAX = 1000
LISTED_MAX = 30  # cases named in the answer; the rest are counted
# Slack clients may turn "--" into an en or em dash; all three introduce the reason.
_REASON = re.compile(r"(?:--|[\u2013\u2014])reason\b", re.IGNORECASE)
_PERSON = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_GROUP = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|[^>]*)?>")
_FILLER = {"to", "->", "-&gt;", "\u2192", "from"}  # "handover @a to @b" reads naturally


@dataclass(frozen=True)
class HandoverRequest:
    from_user: str
    to_user: str
    reason: str | None


def parse(text: str) -> HandoverRequest:
    """The command text as Slack sends it (entity-escaped, mentions as ``<@U…|name>``)."""
    people_part, reason = text, None
    found = _REASON.search(text)
    if found:
        people_part = text[:found.start()]
        reason = unescape_slack(text[found.end():]).strip()
        if not reason:
            raise FlowError(f"Write the reason after `--reason`, or leave it out: {USAGE}.")
        if len(reason) > REASON_MAX:
            raise FlowError(f"Keep the reason under {REASON_MAX} characters; the timeline has room for details.")
    if _GROUP.search(people_part):
        raise FlowError(f"Name two people, not a user group: {USAGE}.")
    people = _PERSON.findall(people_part)
    rest = [w for w in _PERSON.sub(" ", people_part).split() if w.lower() not in _FILLER]
    if rest:
        shown = escape_mrkdwn(unescape_slack(" ".join(rest)))
        raise FlowError(f"I did not understand “{truncate(shown, 100)}”: mention the two people and put anything "
                        f"else after `--reason`: {USAGE}.")
    if not people:
        raise FlowError(f"Mention whose open cases go to whom: {USAGE}, e.g. "
                        "`/advocacy handover @ada @alan --reason Ada is on leave`.")
    if len(people) == 1:
        raise FlowError(f"Mention two people, the current owner first and then the advocate taking over: {USAGE}.")
    if len(people) > 2:
        raise FlowError(f"Mention exactly two people, the current owner and the advocate taking over: {USAGE}.")
    from_user, to_user = people
    if from_user == to_user:
        raise FlowError(f"{mention(from_user)} twice: name the current owner and a different advocate taking over.")
    return HandoverRequest(from_user=from_user, to_user=to_user, reason=reason)


def handover(svc: Services, *, user: str, text: str) -> str:
    """Authorize, move the cases, and say which ones moved (the answer is ephemeral)."""
    request = parse(text)
    team = advocates(svc)
    if user not in team:
        raise FlowError("Only an advocate can hand cases over; ask one of "
                        f"{', '.join(mention(a) for a in team)}.")
    if request.to_user not in team:
        raise FlowError(f"{mention(request.to_user)} is not an advocate: cases can only be handed over to an "
                        f"advocate ({', '.join(mention(a) for a in team)}).")
    with svc.db.transaction(urgent=True) as session:
        moved = domain.hand_over(session, from_user=request.from_user, to_user=request.to_user, by=user,
                                 reason=request.reason, now=svc.clock())
    if not moved:
        return f"{mention(request.from_user)} has no open cases; nothing was handed over."
    lines = [f"• #{m.number} · {escape_mrkdwn(m.customer)} ({m.severity.upper()}, {m.status}) "
             f"{channel_link(m.channel_id, '(no channel)')}" for m in moved[:LISTED_MAX]]
    if len(moved) > LISTED_MAX:
        lines.append(f"…and {len(moved) - LISTED_MAX} more.")
    count = f"{len(moved)} open case" + ("s" if len(moved) != 1 else "")
    return (f":handshake: Handed over {count} from {mention(request.from_user)} to {mention(request.to_user)}:\n"
            + "\n".join(lines)
            + f"\nI am inviting {mention(request.to_user)} to each case channel and posting a handover note there.")
