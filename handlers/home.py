"""The App Home tab, and its Reopen button and modal.

The Home is published after the ack (reading it may expand user groups); it is republished after a
person changes something through it. Refusals of Home buttons arrive by DM: a Home tab has no channel
for an ephemeral answer.
"""

from __future__ import annotations

import json
import logging
from contextlib import suppress
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot import case_flow, resolution_flow
from bot.blocks.home import REOPEN_ACTION, REOPEN_VIEW, home_view, reopen_modal, reopened_view
from bot.domain.home import Viewer, home
from bot.flow import FlowError
from bot.services import Services
from handlers.middleware import log_not_done
from storage.queries import claim_delivery, release_delivery

log = logging.getLogger(__name__)
DATABASE_DOWN = "I could not record this (database unavailable). Please try again in a minute."


def viewer_of(svc: Services, user: str) -> Viewer:
    """Who the user is for the Home's queries: their departments and user groups, expanded first."""
    people = case_flow.team(svc)  # advocates and each department's responders, user groups expanded (cached)
    groups = {g for d in svc.config.departments.values() for g in [*d.heads, *d.deputies] if g.startswith("S")}
    member_of = set()
    for group in groups:
        try:
            if user in svc.directory.group_members(group):
                member_of.add(group)
        except SlackApiError as exc:
            log.warning("could not expand user group %s: %s", group, exc.response.get("error"))
    return Viewer(user=user, groups=frozenset(member_of),
                  departments=frozenset(n for n, members in people.responders.items() if user in members),
                  is_advocate=user in people.advocates)


def publish_home(svc: Services, client: WebClient, user: str) -> None:
    """Read what the user should see now and publish it (after an ack: never on the request thread)."""
    viewer = viewer_of(svc, user)
    now = svc.clock()
    with svc.db.transaction() as session:
        data = home(session, viewer, now=now, zone=svc.config.zone)
        view = home_view(data, today=now.astimezone(svc.config.zone).date(), is_advocate=viewer.is_advocate)
    client.views_publish(user_id=user, view=view)


def tell_by_dm(client: WebClient, user: str, text: str) -> None:
    """chat.postMessage to a user ID posts in the app's DM with them."""
    client.chat_postMessage(channel=user, text=text)


def register(app: App, svc: Services) -> None:
    @app.event("app_home_opened")
    def home_opened(ack: Ack, event: dict[str, Any], client: WebClient) -> None:
        ack()
        if event.get("tab") == "home":
            svc.later(publish_home, svc, client, event["user"])

    @app.action(REOPEN_ACTION)
    def reopen_button(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        user, value = body["user"]["id"], str(action.get("value") or "")
        if not value.isdigit():
            svc.later(tell_by_dm, client, user, ":warning: That Reopen button is out of date; your Home is refreshed.")
            svc.later(publish_home, svc, client, user)
            return
        # The trigger ID is single-use and expires in about 3 s: open the modal first, decide on submission.
        svc.later(client.views_open, trigger_id=body["trigger_id"], view=reopen_modal(int(value)))

    @app.view(REOPEN_VIEW)
    def submit_reopen(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        user, key = body["user"]["id"], f"view:{view['id']}"
        values = (view.get("state") or {}).get("values") or {}
        reason = str(((values.get("reason") or {}).get("value") or {}).get("value") or "").strip()
        if not reason:
            ack(response_action="errors", errors={"reason": "Say why the case is reopened."})
            return
        try:
            number = int(json.loads(view.get("private_metadata") or "{}")["number"])
        except (KeyError, TypeError, ValueError):
            ack(response_action="errors", errors={"reason": "This form is out of date; use Reopen on your Home again."})
            return
        try:
            with svc.db.transaction(urgent=True) as session:  # the same modal submitted twice reopens once
                if not claim_delivery(session, key, svc.clock()):
                    ack()
                    return
            answer = resolution_flow.reopen(svc, user=user, number=number, reason=reason)
        except FlowError as exc:
            ack()  # the modal closes; the refusal says why in a DM (a Home tab has no channel)
            svc.later(tell_by_dm, client, user, f":warning: {exc}")
            svc.later(publish_home, svc, client, user)
            return
        except (SQLAlchemyError, TimeoutError):
            log_not_done(log, "could not reopen case %s", number)
            with suppress(SQLAlchemyError, TimeoutError), svc.db.transaction() as session:
                release_delivery(session, key)  # submitting again must get through
            ack(response_action="errors", errors={"reason": DATABASE_DOWN})
            return
        ack(response_action="update", view=reopened_view(answer))
        svc.kick()
        svc.later(publish_home, svc, client, user)
