"""Answering the person who asked: where they asked (the command's response URL), else by DM."""

from __future__ import annotations

from typing import Any

from slack_sdk.webhook import WebhookClient

from bot.services import Services
from jobs.outbox import Done, Item, effect
from jobs.posting import post_once

REPLY = "reply"


def tell(
    ctx: Services,
    item: Item,
    user: str,
    response_url: str | None,
    text: str,
    *,
    blocks: list[dict[str, Any]] | None = None,
    replace_original: bool = False,
) -> str:
    """Send ``text`` (and ``blocks``) to ``user``; returns how: ``response_url`` or ``dm``.

    Response URLs live 30 minutes and take 5 posts; when one is gone, a DM still reaches the person.
    """
    if response_url:
        try:
            response = WebhookClient(response_url, timeout=10).send(
                text=text, blocks=blocks, response_type="ephemeral", replace_original=replace_original
            )
            if response.status_code == 200:
                return "response_url"
        except OSError:
            pass  # unreachable: fall back to a DM
    post_once(ctx.client, item, channel=user, text=text, blocks=blocks, reconcile=False)
    return "dm"


# "escalation.reply": the kind's name before other flows answered through it; rows an earlier release wrote.
@effect("escalation.reply")
@effect(REPLY)
def reply(ctx: Services, item: Item) -> Done:
    """A ``reply`` row: an answer to the person who asked (``user``, ``response_url``, ``text``, ``blocks``,
    ``replace_original``), written with the state it reports on."""
    via = tell(ctx, item, str(item.payload["user"]), item.payload.get("response_url"), str(item.payload["text"]),
               blocks=item.payload.get("blocks"), replace_original=bool(item.payload.get("replace_original")))
    return Done({"via": via})
