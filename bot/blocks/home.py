"""The App Home tab: the cases you own or reported, newest first."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import channel_link, context, header, mention, section
from bot.text import escape_mrkdwn, truncate
from storage.models import Case


def home_view(user: str, owned: list[Case], reported: list[Case]) -> dict[str, Any]:
    usage = "Type `/escalate &lt;customer&gt;: &lt;what happened&gt;` anywhere."
    blocks = [header("Customer advocacy"), context(usage)]
    for title, cases in (("Cases you own", owned), ("Cases you reported", reported)):
        blocks.append({"type": "divider"})
        blocks.append(section(f"*{title}*"))
        if not cases:
            blocks.append(context("None open."))
        for case in cases[:20]:
            blocks.append(
                section(
                    f"*#{case.number} · {escape_mrkdwn(case.customer.name)}* ({case.severity.upper()}, "
                    f"{case.status}) {channel_link(case.channel_id, '')}\n"
                    f"{truncate(escape_mrkdwn(case.summary), 200)}\nOwner {mention(case.owner_id)}"
                )
            )
    return {"type": "home", "blocks": blocks[:100]}
