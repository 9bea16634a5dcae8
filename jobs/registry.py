"""Every module of ``jobs/`` that registers outbox effects (its ``@effect`` decorators run on import).

``create_app`` loads them, so an app can run any row in the outbox; nothing registers at import of ``bot``.
A new feature with effects adds its module here.
"""

from __future__ import annotations

from types import ModuleType


def load_effects() -> tuple[ModuleType, ...]:
    from jobs import (
        case_room,
        case_setup,
        checkins,
        digest,
        escalations,
        handover,
        prevention,
        reminder_answers,
        reminders,
        replies,
        review,
    )

    return (case_room, case_setup, checkins, digest, escalations, handover, prevention, reminder_answers, reminders,
            replies, review)
