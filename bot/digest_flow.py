"""``/advocacy digest``: the current week so far, ephemerally, to advocates and leaders only (it shows
revenue). Adding up a week may take longer than Slack's 3 s, so the figures follow the ack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Respond
from slack_sdk.errors import SlackApiError

from bot.blocks.digest import digest_blocks, digest_text
from bot.domain.digest import digest
from bot.domain.weeks import Week
from bot.escalation_flow import advocates
from bot.flow import FlowError
from bot.services import Services

USAGE = "`/advocacy digest`"


def leaders(svc: Services) -> list[str]:
    try:
        return svc.directory.expand(svc.config.leaders)
    except SlackApiError:
        return [p for p in svc.config.leaders if not p.startswith("S")]


def digest_so_far(svc: Services, *, user: str, text: str) -> Callable[[Respond], None]:
    if text.strip():
        raise FlowError(f"{USAGE} takes nothing more: it shows the current week so far.")
    if user not in advocates(svc) and user not in leaders(svc):
        raise FlowError("The digest shows revenue figures: only advocates and the leaders named in the team "
                        "config (`leaders`) may see it.")

    def answer(respond: Respond) -> None:
        now = svc.clock()
        with svc.db.transaction() as session:
            data: dict[str, Any] = digest(session, Week.of(now, svc.config.zone), svc.config, now=now)
        respond(text=digest_text(data), blocks=digest_blocks(data, so_far=True), response_type="ephemeral")

    return answer
