"""View submissions: the escalation modal, the customer-update modal of reminders, the resolve modal, the
customer form, the check-in forms (Log, Skip)."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App
from sqlalchemy.exc import SQLAlchemyError

from bot import checkin_flow, customer_flow, escalation_flow, resolution_flow, update_flow
from bot.blocks import checkin as checkin_blocks
from bot.blocks import customer_modal
from bot.blocks.escalate_modal import CALLBACK_ID, ModalContext, choice_view, read_modal
from bot.blocks.reminders import LOG_UPDATE_VIEW
from bot.blocks.replies import open_case_choice
from bot.blocks.resolve_modal import RESOLVE_VIEW, case_id_of, read_resolve_modal
from bot.domain.cases import Origin
from bot.domain.escalation import validate_request
from bot.domain.resolution import team_today
from bot.flow import FlowError
from bot.services import Services
from handlers.home import publish_home
from handlers.middleware import log_not_done

log = logging.getLogger(__name__)
DATABASE_DOWN = "I could not record this (database unavailable). Please try again in a minute."


def register(app: App, svc: Services) -> None:
    @app.view(CALLBACK_ID)
    def submit_escalation(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        request, errors = read_modal(view)
        errors.update(validate_request(request, svc.config))
        if errors:
            ack(response_action="errors", errors=errors)
            return
        context = ModalContext.load(view.get("private_metadata"))
        origin = Origin(
            requester=body["user"]["id"],
            channel_id=context.channel,
            response_url=context.response_url,
            source_channel_id=context.source_channel,
            source_ts=context.source_ts,
        )
        # Whether the customer has an open case is one quick query; if so, the choice replaces the
        # modal, which can only be done in the ack. Otherwise one insert records the request (keyed
        # by the view: a view submitted twice opens one case) and the rest happens after the ack.
        try:
            choice = escalation_flow.offer_choice(svc, request, origin)
            if choice is not None:
                ack(response_action="update",
                    view=choice_view(open_case_choice(choice.existing, choice.draft_id, request.summary)))
                return
            escalation_flow.request_case(svc, request, origin, key=f"view:{view['id']}")
        except (SQLAlchemyError, TimeoutError):
            log_not_done(log, "could not record an escalation")
            ack(response_action="errors", errors={"summary": DATABASE_DOWN})
            return
        ack()
        svc.kick()

    @app.view(LOG_UPDATE_VIEW)
    def submit_update(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        text = str(((values.get("text") or {}).get("value") or {}).get("value") or "").strip()
        via = str((((values.get("via") or {}).get("value") or {}).get("selected_option") or {}).get("value") or "")
        if not text:
            ack(response_action="errors", errors={"text": "Say what the customer was told."})
            return
        try:
            reminder_id = int(json.loads(view.get("private_metadata") or "{}")["reminder"])
            # Keyed by the view: a modal submitted twice records one update.
            update_flow.log_update(svc, user=body["user"]["id"], reminder_id=reminder_id, text=text,
                                   via=via or "other", source="modal", delivery=f"view:{view['id']}")
        except FlowError as exc:
            ack(response_action="errors", errors={"text": str(exc)})
            return
        except (KeyError, ValueError):
            ack(response_action="errors", errors={"text": "This form is out of date; use the reminder's button again."})
            return
        except (SQLAlchemyError, TimeoutError):
            log_not_done(log, "could not record a customer update")
            ack(response_action="errors", errors={"text": DATABASE_DOWN})
            return
        ack()
        svc.kick()

    @app.view(RESOLVE_VIEW)
    def submit_resolution(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Errors go back into the modal on their block; the case id rides in private_metadata."""
        form, errors = read_resolve_modal(view, svc.config, team_today(svc.clock(), svc.config))
        if form is None:
            ack(response_action="errors", errors=errors)
            return
        case_id = case_id_of(view)
        try:
            if case_id is None:
                raise FlowError("This form is out of date; type `/case resolve` again.")
            # Keyed by the view: a modal submitted twice resolves once.
            resolution_flow.resolve(svc, user=body["user"]["id"], case_id=case_id, form=form,
                                    delivery=f"view:{view['id']}")
        except FlowError as exc:
            ack(response_action="errors", errors={"resolution": str(exc)})
            return
        except (SQLAlchemyError, TimeoutError):
            log_not_done(log, "could not resolve case %s", case_id)
            ack(response_action="errors", errors={"resolution": DATABASE_DOWN})
            return
        ack()
        svc.kick()

    @app.view(customer_modal.CALLBACK_ID)
    def submit_customer(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Errors go back on their block; near-duplicate names come back into the form as a choice."""
        form, customer_id = customer_modal.read_customer_modal(view)
        try:
            # Keyed by the view: a form submitted twice changes the customer once.
            reply = customer_flow.submit(svc, user=body["user"]["id"], form=form, customer_id=customer_id,
                                         delivery=f"view:{view['id']}")
        except (SQLAlchemyError, TimeoutError):
            log_not_done(log, "could not save customer %s", customer_id or form.name)
            ack(response_action="errors", errors={"name": DATABASE_DOWN})
            return
        if reply.errors:
            ack(response_action="errors", errors=reply.errors)
        elif reply.view:
            ack(response_action="update", view=reply.view)
        else:
            ack()

    # ---------------------------------------------------------------- check-ins: Log and Skip

    def answer_checkin(ack: Ack, body: dict[str, Any], view: dict[str, Any], block: str, record: Any) -> None:
        """Errors go back on ``block``; the check-in id rides in private_metadata, with where the form came from."""
        checkin_id, home = checkin_blocks.form_target(view)
        user = body["user"]["id"]
        try:
            if checkin_id is None:
                raise FlowError("This form is out of date; use the check-in's button again.")
            # Keyed by the view: a form submitted twice records once.
            record(user=user, checkin_id=checkin_id, delivery=f"view:{view['id']}")
        except FlowError as exc:
            ack(response_action="errors", errors={block: str(exc)})
            return
        except (SQLAlchemyError, TimeoutError):
            log_not_done(log, "could not record check-in %s", checkin_id)
            ack(response_action="errors", errors={block: DATABASE_DOWN})
            return
        ack()
        svc.kick()
        if home:
            svc.later(publish_home, svc, app.client, user)

    @app.view(checkin_blocks.LOG_VIEW)
    def submit_checkin(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        form, errors = checkin_blocks.read_log_modal(view)
        if form is None:
            ack(response_action="errors", errors=errors)
            return
        answer_checkin(ack, body, view, "how", lambda **kw: checkin_flow.log(svc, form=form, **kw))

    @app.view(checkin_blocks.SKIP_VIEW)
    def skip_checkin(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        reason, errors = checkin_blocks.read_skip_reason(view)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        answer_checkin(ack, body, view, "reason", lambda **kw: checkin_flow.skip(svc, reason=reason, **kw))
