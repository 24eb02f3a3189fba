"""Sage 300 CRE's texts as the connector guide (and the simulator's few own texts) word them: what the
simulator must answer with, written once for every test that expects one."""
from __future__ import annotations

NOT_FOUND = "Entity with this ID not found."
BLANK = "Can't be blank."
JOB_CLOSED = "Job has been closed."
JOB_EXISTS = "A job with that code already exists."
VENDOR_EXISTS = "A vendor already exists with the specified id."
EXTRA_EXISTS = "An extra with that code already exists on this job."
VENDOR_INACTIVE = "Vendor is inactive/has been archived."
NO_CATEGORY = "No entities could be found of type [Category] with given where clause."
ARCHIVED = "Commitment has been archived."
CCO_EXISTS = "A commitment change order already exists with the specified id."
ITEM_EXISTS = "A contract item already exists on this contract with the specified code."
AR_DUPLICATE = "Duplicate Invoice encountered. Invoice # must be unique."
NO_DISTRIBUTIONS = "The document's codings are incomplete: The document has no distributions."
AP_FAILED = "Ap Invoice Api import failed with error message: "
AR_FAILED = "Ar Invoice Api import failed with error message: "  # the AR import's (not in the guide)
RATE_LIMITED = ("Unknown Error => You have surpassed the max number of requests for an hour. "
                "Please wait until your limit resets.")


def too_long(field: str, limit: int) -> str:
    return f"[{field}] is too long, maximum length is {limit} characters."
