"""Customers: one row per customer, names unique regardless of case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Case, Customer, CustomerStatusChange


def name_key(name: str) -> str:
    """``ACME`` and `` acme `` are one customer."""
    return " ".join(name.split()).casefold()


def find_customer(session: Session, name: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.name_key == name_key(name))).one_or_none()


def get_or_create_customer(
    session: Session,
    name: str,
    *,
    now: datetime,
    timezone: str | None = None,
    external_ref: str | None = None,
    by: str = "bot",
) -> Customer:
    """The customer called ``name``, created if unknown; given details fill in what is missing."""
    customer = find_customer(session, name)
    if customer is None:
        customer = Customer(
            name=" ".join(name.split()),
            name_key=name_key(name),
            timezone=timezone,
            external_ref=external_ref,
            created_at=now,
            status="active",
        )
        session.add(customer)
        session.flush()
        session.add(CustomerStatusChange(customer_id=customer.id, at=now, from_status=None, to_status="active",
                                         by=by))
        return customer
    if timezone:
        customer.timezone = timezone
    if external_ref:
        customer.external_ref = external_ref
    return customer


def open_cases_of(session: Session, name: str) -> list[Case]:
    customer = find_customer(session, name)
    if customer is None:
        return []
    return list(
        session.scalars(
            select(Case)
            .where(Case.customer_id == customer.id, Case.status.in_(Case.OPEN_STATUSES))
            .order_by(Case.number)
        )
    )
