"""The App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy import select

from bot.blocks.home import home_view
from bot.services import Services
from storage.models import Case


def register(app: App, svc: Services) -> None:
    def publish(user: str, client: WebClient) -> None:
        """After the ack: read the user's cases and publish their Home tab."""
        open_cases = select(Case).where(Case.status.in_(Case.OPEN_STATUSES)).order_by(Case.number.desc())
        with svc.db.transaction() as session:
            owned = list(session.scalars(open_cases.where(Case.owner_id == user)))
            reported = list(session.scalars(open_cases.where(Case.reporter_id == user, Case.owner_id != user)))
        client.views_publish(user_id=user, view=home_view(user, owned, reported))

    @app.event("app_home_opened")
    def home_opened(ack: Ack, event: dict[str, Any], client: WebClient) -> None:
        ack()
        if event.get("tab") == "home":
            svc.later(publish, event["user"], client)
