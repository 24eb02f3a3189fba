"""The connector guide's "Common Error Messages and Resolutions" table, as data.

Each error text is written as in the guide; its placeholders (XXX, [XX-XXXXX-XX], [..],
MM\\DD\\YYYY, and [Field] / N in the generic field-length row) match any text, and runs
of spaces match any whitespace. Areas follow the guide's grouping, so "Job has been
closed." is filed under Change orders even when an invoice gets it. A few rows are not
in the guide but answer texts the simulator gives (marked "not in the guide"): the
job's state length, and a vendor or an extra that already exists (areas "Companies"
and "Sub jobs", after the guide's data mapping tables).

The financial kinds add: Sage's AR import text for a repeated owner invoice (Invoices, from
the owner invoice article), the simulator's text for a budget line that already has an
estimate (area "Budgets", not in the guide), and the length texts of the commitment's ID,
the commitment change order's ID, the PCCO number and the budget change number (the
prerequisites of the guide's Things to Know).

Vendors and jobs share some length texts ("[Name] is too long, maximum length is 30
characters.", the zip and state ones); the Projects rows' causes and solutions are
worded to fit both.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SUPPORT = "Contact ERP Support to confirm the steps to resolution."
DATA_ISSUE = "A data issue within the integration."


@dataclass(frozen=True)
class Explanation:
    area: str
    cause: str
    solution: str
    project_team: bool = False   # the project team can act on it (see Row)


@dataclass(frozen=True)
class Row:
    area: str
    error: str
    cause: str
    solution: str
    # The project team (the invoice administrator, a project admin) can act on the cause: a
    # value they entered (a name too long, an ID or number already in Sage), or a Sage record
    # of their project they can have changed (a closed job, an inactive vendor). Rows left
    # False need ERP Support or accounting (a closed GL period, tolerances, rate limits).
    project_team: bool = False


ROWS: tuple[Row, ...] = (
    # ---- Change orders
    Row("Change orders", "A change order with code XXX already exists on this contract.",
        "The change order number entered in the ERP tool is already in use on this contract in Sage 300 CRE.",
        "Check the contract in Sage 300 CRE for the next available change order number and retry the export "
        "with it. If the item is not in Sage 300 CRE, send ERP Support a screenshot of the contract.",
        project_team=True),
    Row("Change orders", "Job has been closed.",
        "The job is in a 'Closed' status in Sage 300 CRE.",
        "Reopen the job in Sage 300 CRE, then retry the export. If it persists, send ERP Support a screenshot "
        "of the job in an Open status.",
        project_team=True),
    Row("Change orders", "A commitment change order already exists with the specified id.",
        "Commitment change order IDs must be globally unique; the ID entered in the ERP tool already exists "
        "in Sage 300 CRE.",
        "Check whether the commitment change order is in Sage 300 CRE with the expected transactions. If all "
        "its data is there but the portal shows it failed, ERP Support must link it: send them a screenshot.",
        project_team=True),
    Row("Change orders", "A contract item already exists on this contract with the specified code.",
        "The line item is not marked as synced, contract items were modified in Sage 300 CRE, or the prime "
        "contract change order was reset.",
        SUPPORT),
    Row("Change orders", "Commitment has been archived.",
        "The parent contract was archived in Sage 300 CRE, or one of the commitment's schedule of values items "
        "was not synced properly.",
        "Contact ERP Support with a screenshot of the commitment's line items (Job Cost > Tasks > Commitments)."),
    # the guide spells this row "exits"; keep it so that text explains too
    Row("Change orders", "A commitment with code [XX-XXXXX-XX] already exits.",
        "The commitment was deleted and re-created, a previous export attempt failed, or a different "
        "commitment has the same code.",
        SUPPORT),
    # ---- Contracts
    Row("Contracts", "A commitment with code [XX-XXXXX-XX] already exists.",
        "The commitment was deleted and re-created, a previous export attempt failed, or a different "
        "commitment has the same code.",
        SUPPORT),
    Row("Contracts", "Vendor is inactive/has been archived.",
        "The vendor is set to 'Inactive' in Sage 300 CRE.",
        "Uncheck 'Inactive' on the vendor in Sage 300 CRE and check the vendor is still synced; if it is not, "
        "ask ERP Support to re-link the vendors.",
        project_team=True),
    Row("Contracts", "Changing the code is not allowed.",
        "The item has been attempted several times and the previous export attempts need to be cleared.",
        SUPPORT),
    Row("Contracts", "No entities could be found of type [Category] with given where clause.",
        "The category used on the item is no longer on the job in Sage 300 CRE (cost codes and/or categories "
        "were deleted and/or re-added).",
        SUPPORT),
    Row("Contracts", "A commitment already exists with the specified id.",
        "A commitment with the same code already exists in the hh2 database, e.g. one created directly in "
        "Sage 300 CRE, even if it was later deleted.",
        "Follow the ERP Support FAQ for this error."),
    # ---- Invoices
    Row("Invoices", "There are errors in the document's codings. Errors: Document already exists for "
                    "specified vendor and code [XX-XXXXXX-XX].",
        "There is already an invoice in Sage 300 CRE with the same code for the vendor.",
        "Use a unique invoice ID (ERP ID). If it is unique, contact ERP Support to fix the data discrepancy "
        "between the systems.",
        project_team=True),
    Row("Invoices", "Ap Invoice Api import failed with error message: GL period closed.  Entry not allowed. "
                    "(MM\\DD\\YYYY).",
        "Invoices will not post to a closed GL period in Sage 300 CRE.",
        "Re-open the GL period and contact ERP Support to reset the failed export attempt."),
    # not in the guide: its AP text as the AR (owner invoice) import words it
    Row("Invoices", "Ar Invoice Api import failed with error message: GL period closed.  Entry not allowed. "
                    "(MM\\DD\\YYYY).",
        "Owner invoices will not post to a closed GL period in Sage 300 CRE.",
        "Re-open the GL period in Sage 300 CRE, then retry the export."),
    Row("Invoices", "The document's codings are incomplete: The document has no distributions.",
        "Usually a zero-dollar invoice: Work Completed and New Materials Stored net to zero, and the "
        "integration sends no lines for $0, so there is nothing to export.",
        "Correct the zero-dollar invoice.",
        project_team=True),
    Row("Invoices", "Ap Invoice Api import failed with error message: Commitment XXXXXXX - amount invoiced "
                    "exceeds approved amount plus tolerance.",
        "A Sage 300 CRE setting, not the portal: the item goes over the amount Sage 300 CRE allows "
        "(it is being overbilled).",
        "Check the tolerance setup in Sage 300 CRE and adjust it; see the Sage 300 CRE Knowledgebase."),
    Row("Invoices", "Ap Invoice Api import failed with error message:  [XXXXX] is an invalid expense account.",
        "Sage 300 CRE requires an expense (GL) account on the distribution, typically because 'control "
        "accounts' is turned on.",
        "See the Sage 300 CRE Knowledgebase."),
    # ---- ERP connection
    Row("ERP connection", "Entity with this ID not found.", DATA_ISSUE, "Contact ERP Support."),
    Row("ERP connection", "Can't be blank.", DATA_ISSUE, "Contact ERP Support."),
    Row("ERP connection", "We're sorry, an error occurred when attempting to sync your Jobs. Please contact "
                          "your customer support rep for assistance.", DATA_ISSUE, "Contact ERP Support."),
    Row("ERP connection", "Unknown Error => You have surpassed the max number of requests for an hour. "
                          "Please wait until your limit resets.",
        "You have run into the API rate limits.", "Contact ERP Support."),
    # ---- Projects
    Row("Projects", "A job with that code already exists.",
        "A job with the same code already exists in Sage 300 CRE.",
        "Ask ERP Support to confirm the duplicate job no longer exists in Sage 300 CRE JC and PJ; once they "
        "have reconciled the data, reject and re-export the job."),
    Row("Projects", "[Name] is too long, maximum length is 30 characters.",
        "The name has more than 30 characters.", "Enter a name of 30 characters or fewer.",
        project_team=True),
    Row("Projects", "[AddressCity] is too long, maximum length is 15 characters.",
        "The address/city has more than 15 characters.", "Enter an address/city of 15 characters or fewer.",
        project_team=True),
    Row("Projects", "[AddressZip] is too long, maximum length is 10 characters.",
        "The address/zip has more than 10 characters.", "Enter an address/zip of 10 characters or fewer.",
        project_team=True),
    Row("Projects", "A job already exists with the specified id.",
        "Job IDs have to be globally unique.", "Verify that the job ID being used is unique.",
        project_team=True),
    # not in the guide: the job (and vendor) state is 4 characters in Sage 300 CRE
    Row("Projects", "[AddressState] is too long, maximum length is 4 characters.",
        "The address/state has more than 4 characters.",
        "Enter an address/state of 4 characters or fewer (the state's abbreviation, e.g. IL).",
        project_team=True),
    # ---- Companies (not in the guide: the simulator's text for a vendor ID in use)
    Row("Companies", "A vendor already exists with the specified id.",
        "A vendor with the ERP Company ID entered already exists in Sage 300 CRE; vendor IDs have to "
        "be unique.",
        "Check the vendor in Sage 300 CRE. If it is this company, link the company to that vendor "
        "instead of exporting it; otherwise retry the export with an unused ERP Company ID.",
        project_team=True),
    # ---- Sub jobs (not in the guide: the simulator's text for an Extra ID in use on the job)
    Row("Sub jobs", "An extra with that code already exists on this job.",
        "The job in Sage 300 CRE already has an extra with the Extra ID entered for this sub job.",
        "Check the job's extras in Sage 300 CRE. If it is this sub job, import it from Sage 300 CRE "
        "instead of exporting it; otherwise retry the export with an unused Extra ID.",
        project_team=True),
    # ---- the financial kinds' texts
    Row("Invoices", "Duplicate Invoice encountered. Invoice # must be unique.",
        "Sage 300 CRE's AR import already has an invoice with this number: owner invoice numbers must "
        "be unique.",
        "Check the invoice in Sage 300 CRE Accounts Receivable. If it is this owner invoice, it was exported "
        "before; otherwise retry the export with an unused invoice number.",
        project_team=True),
    # not in the guide: the simulator's text for a budget line whose estimate is already in Sage
    Row("Budgets", "An estimate already exists for cost code XXX category XXX.",
        "The job in Sage 300 CRE already has an original estimate for this cost code and category: the "
        "budget (or this line) was exported before, or the estimate was entered in Sage 300 CRE.",
        "Check the job's estimate in Sage 300 CRE (Job Cost > Setup > Jobs > Estimate Totals). Change an "
        "estimate that is already there with a budget change (an Approved Estimate Change), not by "
        "exporting the budget again."),
    Row("Budgets", "[ChgMgmtRef1] is too long, maximum length is 36 characters.",
        "The budget change number, sent as Chg Mgmt Ref 1, has more than 36 characters.",
        "Use a budget change number of 36 characters or fewer, then export again.",
        project_team=True),
    Row("Contracts", "[Commitment] is too long, maximum length is 12 characters.",
        "The commitment's Sage 300 CRE ID has more than 12 characters (a Sage 300 CRE limitation).",
        "Enter a Sage 300 CRE ID of 12 characters or fewer, then export again.",
        project_team=True),
    Row("Change orders", "[CommitmentCO] is too long, maximum length is 10 characters.",
        "The commitment change order's ID has more than 10 characters (a Sage 300 CRE limitation).",
        "Enter a commitment change order ID of 10 characters or fewer, then export again.",
        project_team=True),
    Row("Change orders", "[Number] is too long, maximum length is 20 characters.",
        "The prime contract change order number has more than 20 characters; it is sent as Chg Mgmt Ref 1.",
        "Renumber the prime contract change order with 20 characters or fewer, then export again.",
        project_team=True),
    # not in the guide: the simulator's text for a record of a generic kind whose key is in Sage
    Row("ERP connection", "An entity of type [Field] already exists with the specified id.",
        "Sage 300 CRE already has a record of this type with the same ID; IDs of a record type must be "
        "unique.",
        "Check the record in Sage 300 CRE. If it is this item, it was exported before; otherwise retry the "
        "export with an unused ID.",
        project_team=True),
    # ---- not in the guide: the field-length check for any other field (the simulator's)
    Row("ERP connection", "[Field] is too long, maximum length is N characters.",
        "A value is longer than the Sage 300 CRE field (named in brackets) allows.",
        "Shorten the value to the maximum length shown, then export again.",
        project_team=True),
)

# Placeholders in the guide's texts; everything else is literal.
_PLACEHOLDER = re.compile(r"\bX{2,}(?:-X{2,})*\b|\[\.\.\]|MM\\DD\\YYYY|\[Field\]|\bN\b|\s+")


def _regex(error: str) -> re.Pattern:
    parts, pos = [], 0
    for m in _PLACEHOLDER.finditer(error):
        parts.append(re.escape(error[pos:m.start()]))
        token = m.group()
        if token.isspace():
            parts.append(r"\s+")
        elif token.startswith("["):
            parts.append(r"\[.*?\]")
        else:
            parts.append(".*?")
        pos = m.end()
    parts.append(re.escape(error[pos:]))
    return re.compile("".join(parts), re.IGNORECASE)


_PATTERNS = tuple((_regex(row.error), row) for row in ROWS)


def explain(message: str) -> Explanation | None:
    """The guide's area, cause and solution for a Sage error message, or None."""
    text = (message or "").strip()
    # a whole-message match first, so specific rows beat texts quoted inside longer ones
    for finder in ("fullmatch", "search"):
        for pattern, row in _PATTERNS:
            if getattr(pattern, finder)(text):
                return Explanation(row.area, row.cause, row.solution, row.project_team)
    return None
