"""Block actions: the add-or-open choice of an escalation, the buttons on reminders, Mark done on prevention actions,
and Log / Snooze / Skip on check-ins (in the DM and on the App Home)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot import checkin_flow, escalation_flow, resolution_flow, update_flow
from bot.blocks import checkin as checkin_blocks
from bot.blocks.common import channel_link
from bot.blocks.escalate_modal import done_view
from bot.blocks.prevention import PREVENTION_DONE
from bot.blocks.reminders import LOG_UPDATE, SNOOZE_HOUR, SNOOZE_TOMORROW, log_update_modal
from bot.flow import FlowError
from bot.services import Services
from handlers.home import publish_home, tell_by_dm
from handlers.middleware import TRY_AGAIN

log = logging.getLogger(__name__)


def register(app: App, svc: Services) -> None:
    def reply(body: dict[str, Any], respond: Respond, client: WebClient, text: str) -> None:
        """Answer where the buttons were: in the modal, or in the ephemeral message."""
        if (body.get("container") or {}).get("type") == "view" and body.get("view"):
            client.views_update(view_id=body["view"]["id"], view=done_view(text))
        else:
            respond(text=text, replace_original=True, response_type="ephemeral")

    def choose(body: dict[str, Any], respond: Respond, client: WebClient, draft_id: str, case_id: int | None) -> None:
        try:
            case = escalation_flow.choose(svc, draft_id, body["user"]["id"], add_to_case_id=case_id)
        except escalation_flow.DraftError as exc:
            reply(body, respond, client, f":warning: {exc}")
            return
        except (SQLAlchemyError, TimeoutError):  # after the ack: the error handler cannot answer for us
            log.warning("could not record an escalation choice (database unavailable)")
            reply(body, respond, client, TRY_AGAIN)
            return
        svc.kick()
        if case_id is None:
            reply(body, respond, client, f":hourglass_flowing_sand: Opening case #{case.number}…")
        else:
            reply(body, respond, client,
                  f":hourglass_flowing_sand: Adding your report to {channel_link(case.channel_id)}…")

    @app.action("escalation_add_to_case")
    def add_to_case(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond,
                    client: WebClient) -> None:
        ack()
        draft_id, _, case_id = str(action.get("value") or "").partition(":")
        if not case_id.isdigit():
            reply(body, respond, client, ":warning: That button is out of date; run /escalate again.")
            return
        svc.later(choose, body, respond, client, draft_id, int(case_id))

    @app.action("escalation_open_new")
    def open_new(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond,
                 client: WebClient) -> None:
        ack()
        svc.later(choose, body, respond, client, str(action.get("value") or ""), None)

    def reminder_id(action: dict[str, Any]) -> int | None:
        value = str(action.get("value") or "")
        return int(value) if value.isdigit() else None

    @app.action(LOG_UPDATE)
    def log_update(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond,
                   client: WebClient) -> None:
        ack()
        rid = reminder_id(action)
        try:
            if rid is None:
                raise FlowError("That button is out of date.")
            case = update_flow.case_of_reminder(svc, rid)
        except FlowError as exc:
            svc.later(respond, text=f":warning: {exc}", response_type="ephemeral", replace_original=False)
            return
        # The trigger ID expires in about 3 s: open the modal at once, off the request thread.
        svc.later(client.views_open, trigger_id=body["trigger_id"],
                  view=log_update_modal(case, update_flow.update_modal_context(rid)))

    def snooze(body: dict[str, Any], action: dict[str, Any], respond: Respond, *, tomorrow: bool) -> None:
        """Checked and queued before the ack; snoozed, and the person told, right after it (through the outbox)."""
        rid = reminder_id(action)
        try:
            if rid is None:
                raise FlowError("That button is out of date.")
            update_flow.queue_snooze(svc, user=body["user"]["id"], reminder_id=rid, tomorrow=tomorrow,
                                     response_url=body.get("response_url"))
        except FlowError as exc:
            svc.later(respond, text=f":warning: {exc}", response_type="ephemeral", replace_original=False)
            return
        svc.kick()

    @app.action(SNOOZE_HOUR)
    def snooze_hour(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        snooze(body, action, respond, tomorrow=False)

    @app.action(SNOOZE_TOMORROW)
    def snooze_tomorrow(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        snooze(body, action, respond, tomorrow=True)

    @app.action(PREVENTION_DONE)
    def prevention_done(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        """Mark done on a prevention-action DM: the message then shows who did it and when."""
        ack()
        value = str(action.get("value") or "")
        try:
            if not value.isdigit():
                raise FlowError("That button is out of date.")
            text, blocks = resolution_flow.mark_prevention_done(svc, user=body["user"]["id"], action_id=int(value))
        except FlowError as exc:
            svc.later(respond, text=f":warning: {exc}", response_type="ephemeral", replace_original=False)
            return
        svc.kick()
        svc.later(respond, text=text, blocks=blocks, replace_original=True)

    # ---------------------------------------------------------------- check-ins (the DM and the App Home)

    def on_home(body: dict[str, Any]) -> bool:
        return (body.get("container") or {}).get("type") == "view"

    def checkin_refusal(body: dict[str, Any], respond: Respond, client: WebClient, text: str) -> None:
        """Ephemeral under the DM; by DM from the Home tab (which has no channel), and the Home is refreshed."""
        user = body["user"]["id"]
        if on_home(body):
            svc.later(tell_by_dm, client, user, f":warning: {text}")
            svc.later(publish_home, svc, client, user)
        else:
            svc.later(respond, text=f":warning: {text}", response_type="ephemeral", replace_original=False)

    def checkin_form(body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient,
                     modal: Any) -> None:
        value = str(action.get("value") or "")
        try:
            if not value.isdigit():
                raise FlowError("That button is out of date.")
            target = checkin_flow.target(svc, user=body["user"]["id"], checkin_id=int(value))
        except FlowError as exc:
            checkin_refusal(body, respond, client, str(exc))
            return
        # The trigger ID expires in about 3 s: open the form at once, off the request thread.
        svc.later(client.views_open, trigger_id=body["trigger_id"],
                  view=modal(target.checkin_id, target.customer, home=on_home(body)))

    @app.action(checkin_blocks.LOG)
    def checkin_log(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond,
                    client: WebClient) -> None:
        ack()
        checkin_form(body, action, respond, client, checkin_blocks.log_modal)

    @app.action(checkin_blocks.SKIP)
    def checkin_skip(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond,
                     client: WebClient) -> None:
        ack()
        checkin_form(body, action, respond, client, checkin_blocks.skip_modal)

    @app.action(checkin_blocks.SNOOZE)
    def checkin_snooze(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond,
                       client: WebClient) -> None:
        """The DM is updated through the outbox (it says until when); from the Home, the Home is refreshed."""
        ack()
        value = str(action.get("value") or "")
        try:
            if not value.isdigit():
                raise FlowError("That button is out of date.")
            checkin_flow.snooze(svc, user=body["user"]["id"], checkin_id=int(value))
        except FlowError as exc:
            checkin_refusal(body, respond, client, str(exc))
            return
        svc.kick()
        if on_home(body):
            svc.later(publish_home, svc, client, body["user"]["id"])
