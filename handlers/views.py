"""View submissions: the escalation modal."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from sqlalchemy.exc import SQLAlchemyError

from bot import escalation_flow
from bot.blocks.escalate_modal import CALLBACK_ID, ModalContext, choice_view, read_modal
from bot.blocks.replies import open_case_choice
from bot.domain.cases import Origin
from bot.domain.escalation import validate_request
from bot.services import Services

log = logging.getLogger(__name__)


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
            log.exception("could not record an escalation")
            ack(response_action="errors",
                errors={"summary": "I could not record this (database unavailable). Please try again in a minute."})
            return
        ack()
        svc.kick()
