"""A twelfth item type written in one module, as the README's "Adding an item type" says.

Everything the type is stands in this file: its table, its Sage record, its ItemType. Once
registered it gets a project-side page, a tab, Accept (an export through the simulator's
generic path), Reject (with the rejection mail) and Unlink, with no other file of the portal
touched. The table is made here (a real type brings a migration instead).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, OutboxMail
from portal.domain.search import like
from portal.domain.types import REGISTRY, Column, Field, ItemSummary, ItemType, register, unregister
from portal.domain.types.base import check_length, invalid_if
from portal.exporters.sage300.records import Batch, Fields, SageField
from tests import factories as f
from tests.conftest import login

KEY = "test_customer"


# ---- the type: a model, a Sage record, an ItemType -------------------------------------------

class OwnBase(DeclarativeBase):
    pass


class Customer(OwnBase):
    """An owner (AR customer) in the company directory."""
    __tablename__ = "test_customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    city: Mapped[str] = mapped_column(String(60), default="")
    customer_id: Mapped[str | None] = mapped_column(String(10))
    created_by_id: Mapped[int | None] = mapped_column(Integer)


@dataclass(frozen=True)
class ARCustomer:
    """Sage's AR customer record, as the simulator's generic path takes it."""
    customer: str
    name: str
    city: str
    SAGE_FIELDS: ClassVar[Fields] = (SageField("Customer", "customer", 10, required=True),
                                     SageField("Name", "name", 30, required=True),
                                     SageField("City", "city", 15))
    SAGE_KEY: ClassVar[tuple[str, ...]] = ("customer",)
    SAGE_TABLE: ClassVar[str] = "AR Customer"


class CustomerType(ItemType):
    key = KEY
    label = "Customer"
    plural = "Customers"
    scope = "company"
    model = Customer
    erp_id_field = "customer_id"
    sage_record_kind = "test_ar_customer"
    writes_back_on_sync = True
    columns = (Column("Name", "name"), Column("City", "city"))
    list_columns = columns + (Column("Customer ID", "customer_id"),)

    def project_id(self, item):
        return None

    def list_items(self, session, project_id):
        return list(session.scalars(select(Customer).order_by(Customer.name)))

    def row_values(self, item):
        return {"name": item.name, "city": item.city, "customer_id": item.customer_id or ""}

    def search_ids(self, q):
        return select(Customer.id).where(like(Customer.name, q))

    def form_fields(self, session, project_id, item):
        return [Field("name", "Name", required=True, maxlength=60), Field("city", "City", maxlength=60)]

    def form_values(self, item):
        return {"name": item.name, "city": item.city}

    def save(self, session, actor, project_id, item, form):
        errors: dict = {}
        values = {f.name: check_length(errors, form, f.name, f.label, f.maxlength, f.required)
                  for f in self.form_fields(session, project_id, item)}
        invalid_if(errors)
        if item is None:
            item = Customer(created_by_id=actor.id)
            session.add(item)
        item.name, item.city = values["name"], values["city"]
        session.flush()
        return item

    def linked_ref(self, item):
        return item.customer_id

    def accept_fields(self, item):
        return [Field("customer_id", "Customer ID", maxlength=10, required=True)]

    def export_defaults(self, item):
        return {"customer_id": ""}

    def clean_export_fields(self, session, item, raw):
        errors: dict = {}
        customer_id = check_length(errors, raw, "customer_id", "Customer ID", 10, required=True)
        invalid_if(errors)
        return {"customer_id": customer_id}

    def build_batch(self, session, item, fields, batch_id):
        return Batch(batch_id, self.sage_record_kind, (ARCustomer(fields["customer_id"], item.name, item.city),))

    def on_synced(self, session, item, fields, reference):
        item.customer_id = fields["customer_id"]

    def on_unlinked(self, session, item):
        item.customer_id = None

    def unlink_reference(self, erp, item):
        return {"customer": item.customer_id or erp.erp_ref or ""}

    def summary(self, item):
        return ItemSummary(project="Company Directory", title=f"Customer {item.name}", vendor=item.name,
                           amount="—", creator_id=item.created_by_id)


# ---- registered for this module only ---------------------------------------------------------

@pytest.fixture(scope="module")
def customers(app):
    from portal.extensions import db
    with app.app_context():
        OwnBase.metadata.create_all(db.engine)
    register(CustomerType())
    yield REGISTRY[KEY]
    unregister(KEY)
    with app.app_context():
        OwnBase.metadata.drop_all(db.engine)


@pytest.fixture(scope="module")
def users(app, customers):
    with f.app_session(app) as s:
        admin, approver = f.make_user(s, site_admin=True), f.approver(s)
        return {"admin": login(app.test_client(), admin), "approver": login(app.test_client(), approver),
                "admin_email": admin.email}


def create_and_send(app, client, name: str, city: str = "Springfield") -> int:
    """The company admin adds a customer on its generic page and sends it to ERP."""
    response = client.post(f"/company/{KEY}/new", data={"name": name, "city": city})
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    assert name in client.get(f"/company/{KEY}").get_data(as_text=True)
    with f.app_session(app) as s:
        customer_id = s.scalar(select(Customer.id).where(Customer.name == name))
    assert client.post(f"/company/{KEY}/{customer_id}/send").status_code == 303
    return customer_id


def erp_of(app, customer_id: int) -> ErpItem:
    with f.app_session(app) as s:
        erp = s.scalars(select(ErpItem).where(ErpItem.item_type == KEY, ErpItem.item_id == customer_id)).one()
        s.expunge(erp)
        return erp


def test_a_registered_type_gets_a_tab_and_exports_through_the_generic_path(app, sim, users, drain):
    name = f"Lakeside Hospital {f.suffix()}"
    customer_id = create_and_send(app, users["admin"], name)
    erp = erp_of(app, customer_id)
    approver = users["approver"]

    assert list(REGISTRY)[-1] == KEY   # registered last: its tab comes last
    tab = approver.get(f"/erp/{KEY}").get_data(as_text=True)
    assert 'aria-current="page">Customers</a>' in tab and name in tab and f'id="item-{erp.id}"' in tab
    form = approver.get(f"/erp/{KEY}/{erp.id}/accept", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'name="customer_id"' in form

    too_long = approver.post(f"/erp/{KEY}/{erp.id}/accept", data={"customer_id": "C" * 11},
                             headers={"HX-Request": "true"})
    assert too_long.status_code == 422
    assert "Customer ID must be 10 characters or less" in too_long.get_data(as_text=True)

    customer = f"CU{f.suffix(6)}"
    assert approver.post(f"/erp/{KEY}/{erp.id}/accept", data={"customer_id": customer}).status_code == 303
    assert erp_of(app, customer_id).state == State.EXPORTING
    drain()
    synced = erp_of(app, customer_id)
    assert (synced.state, synced.erp_ref) == (State.SYNCED, customer)
    assert sim.find_generic("test_ar_customer", {"customer": customer}) == [f"AR Customer {customer}"]
    with f.app_session(app) as s:
        assert s.get(Customer, customer_id).customer_id == customer  # on_synced wrote it back

    # Unlink: refused while Sage holds the customer, back to draft once it is gone
    held = approver.post(f"/erp/{KEY}/{erp.id}/unlink", headers={"HX-Request": "true"})
    assert held.status_code == 409 and f"AR Customer {customer}" in held.get_data(as_text=True)
    sim.delete_generic("test_ar_customer", {"customer": customer})
    assert approver.post(f"/erp/{KEY}/{erp.id}/unlink").status_code == 303
    assert erp_of(app, customer_id).state == State.DRAFT


def test_sage_refuses_what_its_fields_do_not_hold_with_its_own_text(app, users, drain):
    name = f"Municipal Water and Sewer District {f.suffix()}"   # over Sage's 30 characters
    customer_id = create_and_send(app, users["admin"], name)
    erp = erp_of(app, customer_id)
    accepted = users["approver"].post(f"/erp/{KEY}/{erp.id}/accept", data={"customer_id": f"W{f.suffix()}"})
    assert accepted.status_code == 303
    drain()
    failed = erp_of(app, customer_id)
    assert failed.state == State.FAILED and "Name" in failed.sage_message and "30" in failed.sage_message
    row = users["approver"].get(f"/erp/{KEY}?filter=failed").get_data(as_text=True)
    assert "Failed to Export" in row and name in row


def test_reject_returns_it_to_the_company_and_mails_the_sender(app, users, drain):
    name = f"County Courthouse {f.suffix()}"
    customer_id = create_and_send(app, users["admin"], name)
    erp = erp_of(app, customer_id)
    response = users["approver"].post(f"/erp/{KEY}/{erp.id}/reject", data={"reason": "Duplicate of CU100"})
    assert response.status_code == 303
    drain()
    rejected = erp_of(app, customer_id)
    assert (rejected.state, rejected.reject_reason) == (State.REJECTED, "Duplicate of CU100")
    with f.app_session(app) as s:
        mail = s.scalars(select(OutboxMail).where(OutboxMail.erp_item_id == erp.id)).one()
        assert mail.subject == "Test Builders: ERP Customer Rejection Notification"
        assert users["admin_email"] in mail.recipients and "Duplicate of CU100" in mail.text_body
    page = users["admin"].get(f"/company/{KEY}").get_data(as_text=True)
    assert "Duplicate of CU100" in page and "Resend to ERP" in page
