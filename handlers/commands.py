"""Slash commands: ``/escalate``, ``/case`` and ``/advocacy``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot import case_flow, customer_flow, digest_flow, escalation_flow, handover_flow, resolution_flow
from bot.blocks.case_room import timeline_blocks
from bot.blocks.escalate_modal import ModalContext, escalate_modal
from bot.blocks.replies import case_help, escalating_ack, usage_text
from bot.blocks.resolve_modal import resolve_modal
from bot.domain.cadence import VIA
from bot.domain.cases import Origin
from bot.domain.escalation import EscalationError, parse_escalate_text, validate_request
from bot.durations import parse_duration
from bot.flow import FlowError
from bot.services import Services
from bot.text import truncate, unescape_slack
from bot.update_flow import change_cadence, log_update
from handlers.middleware import log_not_done

log = logging.getLogger(__name__)


def refusal(exc: Exception, what: str) -> str:
    """The ephemeral answer when a sub-command changed nothing: the flow's reason, or the database's state."""
    if isinstance(exc, FlowError):
        return f":warning: {exc}"
    log_not_done(log, "could not record %s", what)  # called in the except block
    return ":x: I could not record that (database unavailable). Please try again in a minute."


def register(app: App, svc: Services) -> None:
    config = svc.config

    @app.command("/escalate")
    def escalate(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        """Runs before the response: parse, write the request durably, answer. Nothing slow here."""
        text = (command.get("text") or "").strip()
        usage = usage_text(list(config.severities), list(config.departments))
        if text.lower() in {"help", "-h", "--help", "?"}:
            ack(text=usage)
            return
        try:
            request = parse_escalate_text(text, config)
        except EscalationError as exc:
            ack(text=f":warning: {exc} Nothing was created.\n{usage}")
            return
        if request.customer is None or not request.summary:  # no "customer:" part: ask in the form
            ack()
            # The trigger ID is single-use and expires in about 3 s: this is its first use, right away.
            context = ModalContext(channel=command.get("channel_id"), response_url=command.get("response_url"))
            svc.later(client.views_open, trigger_id=command["trigger_id"],
                      view=escalate_modal(config, request, context))
            return
        problems = validate_request(request, config)
        if problems:
            ack(text=":warning: " + " ".join(problems.values()) + f" Nothing was created.\n{usage}")
            return
        origin = Origin(
            requester=command["user_id"],
            channel_id=command.get("channel_id"),
            response_url=command.get("response_url"),
        )
        # One insert before the ack: from here on the escalation survives a crash.
        try:
            escalation_flow.request_case(svc, request, origin)
        except (SQLAlchemyError, TimeoutError):
            log_not_done(log, "could not record an escalation")
            ack(text=":x: I could not record this escalation (database unavailable). Nothing was created; "
                "please try again in a minute.")
            return
        ack(text=escalating_ack(request.customer or ""))
        svc.kick()

    # /case sub-commands that change the case: (flow, what to type when the argument is missing)
    changes: dict[str, tuple[Callable[..., str], str]] = {
        "status": (case_flow.status, "`/case status investigating` (new, investigating, waiting-on-customer)"),
        "owner": (case_flow.owner, "`/case owner @name`"),
        "severity": (case_flow.severity, f"`/case severity {next(iter(config.severities))}`"),
        "impact": (case_flow.impact, "`/case impact $12k`"),
        "add": (case_flow.add_department, f"`/case add +{next(iter(config.departments))}`"),
        "note": (case_flow.note, "`/case note Called the carrier, pickup tomorrow`"),
    }

    @app.command("/case")
    def case(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        """Sub-commands about the case whose channel this is. Answers are ephemeral."""
        sub, _, rest = (command.get("text") or "").strip().partition(" ")
        sub, rest = sub.lower(), rest.strip()
        user, channel = command["user_id"], command.get("channel_id")
        try:
            if sub in {"", "help", "-h", "--help", "?"}:
                ack(text=case_help())
                return
            if sub == "update":
                if not rest:
                    raise FlowError("Say what the customer was told: `/case update Refund issued, 3-5 days`.")
                via, said = "unspecified", unescape_slack(rest)
                first, colon, after = said.partition(":")
                if colon and first.strip().lower() in VIA:  # "/case update email: refund issued"
                    via, said = first.strip().lower(), after.strip()
                answer = log_update(svc, user=user, channel_id=channel, text=said, via=via, source="command")
            elif sub == "cadence":
                try:
                    cadence = parse_duration(rest)
                except ValueError as exc:
                    raise FlowError(f"{exc}.") from None
                answer = change_cadence(svc, user=user, channel_id=channel, cadence=cadence)
            elif sub in changes:
                flow, example = changes[sub]
                if not rest:
                    raise FlowError(f"`/case {sub}` needs a value: {example}.")
                answer = flow(svc, user=user, channel_id=channel, value=rest)
            elif sub == "timeline":
                found, events = case_flow.timeline(svc, channel_id=channel)
                ack(text=f"Case #{found.number}: the last {len(events)} events", blocks=timeline_blocks(found, events))
                return
            elif sub == "resolve":
                found = resolution_flow.resolve_form(svc, user=user, channel_id=channel)
                ack()
                # The trigger ID is single-use and expires in about 3 s: this is its first use, right away.
                svc.later(client.views_open, trigger_id=command["trigger_id"], view=resolve_modal(found, svc.config))
                return
            elif sub == "close":
                answer = resolution_flow.close(svc, user=user, channel_id=channel)
            elif sub == "reopen":  # from any channel: the case's own may be archived
                number, reason = resolution_flow.parse_reopen(rest)
                answer = resolution_flow.reopen(svc, user=user, number=number, reason=reason)
            else:
                raise FlowError(f"`{sub}` is not a /case sub-command.\n{case_help()}")
        except (FlowError, SQLAlchemyError, TimeoutError) as exc:
            ack(text=refusal(exc, f"/case {sub}"))
            return
        ack(text=answer)
        svc.kick()

    # /advocacy: the advocacy team's own tools, one entry per sub-command (later: digest).
    # name → (flow(svc, user=…, text=…) returning the answer, or a modal view (a dict) to open; usage; what it does)
    # a tool answers with text, a form to open (dict), or work to do after the ack (callable given respond)
    advocacy_tools: dict[str, tuple[Callable[..., Any], str, str]] = {
        "handover": (handover_flow.handover, handover_flow.USAGE,
                     "move every open case of one person to an advocate (advocates only)"),
        "customer": (customer_flow.customer, customer_flow.USAGE,
                     "a customer's details, status history and cases; add or edit one in a form (advocates)"),
        "digest": (digest_flow.digest_so_far, digest_flow.USAGE,
                   "this week's figures so far, only to you (advocates and leaders)"),
    }

    def advocacy_help() -> str:
        lines = [f"• {usage} — {what}" for _, usage, what in advocacy_tools.values()]
        return "*`/advocacy` — tools for the advocacy team*\n" + "\n".join([*lines, "• `/advocacy help` — this help"])

    @app.command("/advocacy")
    def advocacy(ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """A small dispatcher: the first word picks the tool; answers are ephemeral."""
        sub, _, rest = (command.get("text") or "").strip().partition(" ")
        sub, rest = sub.lower(), rest.strip()
        if sub in {"", "help", "-h", "--help", "?"}:
            ack(text=advocacy_help())
            return
        if sub not in advocacy_tools:  # the text arrives entity-escaped: safe to show as it is
            ack(text=f":warning: `{truncate(sub, 40)}` is not an /advocacy sub-command.\n{advocacy_help()}")
            return
        flow = advocacy_tools[sub][0]
        try:
            answer = flow(svc, user=command["user_id"], text=rest)
        except (FlowError, SQLAlchemyError, TimeoutError) as exc:
            ack(text=refusal(exc, f"/advocacy {sub}"))
            return
        if isinstance(answer, dict):  # a form: the trigger ID is single-use and expires in about 3 s
            ack()
            svc.later(client.views_open, trigger_id=command["trigger_id"], view=answer)
            return
        if callable(answer):  # slow to put together: the answer follows the ack through response_url
            ack(text=":hourglass_flowing_sand: Adding it up…")
            svc.later(answer, respond)
            return
        ack(text=answer)
        svc.kick()
