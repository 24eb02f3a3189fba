"""A record of a batch kind no importer knows: it declares its Sage fields and key, and gets
checked, written to an import file and explained like any other (no app, no database)."""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import ClassVar

import pytest

from portal.exporters.sage300 import records as r
from portal.exporters.sage300.connectors import FileDropConnector
from portal.exporters.sage300.fileformat import (
    FILE_ENCODING,
    drop_file_name,
    import_file,
    parse_import_file,
)
from portal.exporters.sage300.simulator import rules
from portal.exporters.sage300.troubleshooting import explain


@dataclass(frozen=True)
class ARCustomer:
    """An owner exported as an AR customer: a twelfth item type's record, declared here."""
    customer: str
    name: str
    city: str = ""
    since: date | None = None
    credit_limit: Decimal | None = None

    SAGE_FIELDS: ClassVar[r.Fields] = (
        r.SageField("Customer", "customer", 10, required=True), r.SageField("Name", "name", 30, required=True),
        r.SageField("AddressCity", "city", 30), r.SageField("Since", "since"),
        r.SageField("CreditLimit", "credit_limit"))
    SAGE_KEY: ClassVar[tuple[str, ...]] = ("customer",)
    SAGE_TABLE: ClassVar[str] = "AR Customer"


@dataclass(frozen=True)
class CustomerContact:
    customer: str
    contact: str
    email: str = ""

    SAGE_FIELDS: ClassVar[r.Fields] = (r.SageField("Customer", "customer", 10, required=True),
                                       r.SageField("Contact", "contact", 20, required=True),
                                       r.SageField("Email", "email", 60))
    SAGE_KEY: ClassVar[tuple[str, ...]] = ("customer", "contact")
    SAGE_RECORD_ID: ClassVar[str] = "ARC"


@dataclass(frozen=True)
class Undeclared:
    customer: str


def batch(*records, kind="ar_customer"):
    return r.Batch("b-1", kind, records)


def test_what_a_generic_record_declares():
    owner = ARCustomer("CU-1", "City of Springfield")
    contact = CustomerContact("CU-1", "Pat")
    assert r.is_generic(owner) and r.is_generic(contact) and not r.is_generic(Undeclared("CU-1"))
    assert not r.is_generic(r.APVendor("V", "N", "", "", "", "", "", "", ""))  # known records have no key
    assert (r.record_table(owner), r.record_table(contact)) == ("AR Customer", "CustomerContact")
    assert (r.record_id(owner, "ar_customer"), r.record_id(contact, "ar_customer")) == ("ar_customer", "ARC")
    assert (r.record_key(owner), r.record_key(contact)) == (("CU-1",), ("CU-1", "Pat"))


def test_its_fields_are_checked_with_sages_texts():
    assert rules.field_error(ARCustomer("CU-1", "City")) is None
    assert rules.field_error(ARCustomer("CU-1", "  ")) == rules.BLANK
    assert rules.field_error(ARCustomer("CU-12345678", "City", city="X" * 31)) == rules.too_long("Customer", 10)
    assert rules.field_error(ARCustomer("CU-1", "City", city="X" * 31)) == rules.too_long("AddressCity", 30)


def test_the_generic_import_file_layout():
    owner = ARCustomer("CU-1", 'The "City"', city="Springfield", since=date(2026, 10, 1),
                       credit_limit=Decimal("2500.50"))
    text = import_file(batch(owner, CustomerContact("CU-1", "Pat", "pat@example.com")))
    assert text == ('"ar_customer","CU-1","The ""City""","Springfield","10/01/2026","2500.50"\r\n'
                    '"ARC","CU-1","Pat","pat@example.com"\r\n')
    assert parse_import_file(text)[1] == ["ARC", "CU-1", "Pat", "pat@example.com"]
    assert import_file(batch(ARCustomer("CU-2", "Owner"))) == '"ar_customer","CU-2","Owner","","",""\r\n'


@pytest.mark.parametrize("records", [(Undeclared("CU-1"),), (ARCustomer("CU-1", "x"), Undeclared("CU-1")), ()])
def test_a_kind_with_no_layout_and_undeclared_records_has_no_import_file(records):
    with pytest.raises(ValueError, match="no import file for batch kind 'ar_customer'"):
        import_file(batch(*records))


def test_the_file_drop_writes_it_and_cannot_read_sage_back(tmp_path):
    connector = FileDropConnector(str(tmp_path))
    assert connector.reader is None
    result = connector.submit(batch(ARCustomer("CU-1", "City")))
    assert result.ok and result.reference == drop_file_name("b-1")
    text = (tmp_path / result.reference).read_bytes().decode(FILE_ENCODING)
    assert text == '"ar_customer","CU-1","City","","",""\r\n'
    with pytest.raises(r.SageUnreadable, match="needs a connection that can read Sage 300 CRE"):
        connector.held_by_sage("ar_customer", {"customer": "CU-1"})


def test_the_already_exists_text_is_explained():
    message = rules.record_exists("AR Customer")
    assert message == "An entity of type [AR Customer] already exists with the specified id."
    assert explain(message).area == "ERP connection"
    assert "already has a record of this type" in explain(message).cause
