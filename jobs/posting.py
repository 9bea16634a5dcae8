"""Posting a message exactly once, even when an earlier attempt's outcome is unknown.

Each post carries its outbox key in message metadata. When a retry follows an attempt that may
have reached Slack (timeout, connection reset, 5xx), we look for that key in the channel's recent
history before posting again — one ``conversations.history`` call, only on retries.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from jobs.outbox import Item

METADATA_EVENT = "advocacy_outbox"
RECONCILE_DEPTH = 200


def find_posted(client: WebClient, channel: str, key: str) -> str | None:
    """The ts of a message we already posted with ``key``, if any, among the channel's latest messages.

    No ``oldest`` bound from our clock: Slack stamps messages with its own time, and ours may be
    ahead of it (clock skew, ``tick --now`` in the future, the sandbox's clock): the post we look for
    must not be filtered out. A case channel's last 200 messages reach back past any retry window.
    """
    try:
        response = client.conversations_history(channel=channel, limit=RECONCILE_DEPTH, include_all_metadata=True)
    except SlackApiError:
        return None  # cannot tell: post again rather than lose the message
    for message in response.get("messages") or []:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == METADATA_EVENT and (metadata.get("event_payload") or {}).get("key") == key:
            return str(message["ts"])
    return None


def post_once(
    client: WebClient,
    item: Item,
    *,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    reconcile: bool = True,
) -> str:
    """Post and return the message ts; on a retry, return the earlier post's ts if it landed."""
    if reconcile and item.attempts > 1 and not channel.startswith(("U", "W")):
        found = find_posted(client, channel, item.key)
        if found:
            return found
    response = client.chat_postMessage(
        channel=channel,
        text=text,
        blocks=blocks,
        thread_ts=thread_ts,
        metadata={"event_type": METADATA_EVENT, "event_payload": {"key": item.key}},
        unfurl_links=False,
        unfurl_media=False,
    )
    return str(response["ts"])
