"""The ItemType contract: everything a type adds to the one lifecycle, each hook with a default.

A type brings its model, prerequisites, Accept (export) fields, Sage mapping, tab and list
columns, project-side form and the words of its emails. The states, permissions, audit,
queue, mail, tabs and project pages are shared and ask the type only through these hooks.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Select, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from portal.domain.errors import Conflict, Invalid, NotFound
from portal.domain.models import ErpItem, OutboxMail, User
from portal.domain.values import sage_character_problem, text_problem, too_long
from portal.exporters.sage300.records import Batch

# What an export job gets for each item: its import files, or the error that kept it from being mapped.
Mapped = list[Batch] | Exception


@dataclass(frozen=True)
class ItemSummary:
    """What emails and audit pages say about an item."""
    project: str
    title: str          # e.g. "Invoice #INV-001"
    vendor: str
    amount: str
    creator_id: int | None
    # what a mailbox's subject names it by: its number or code ("DD-4001"), and its project's
    # name alone ("Oak Street Lofts"; the directory for a company's own items)
    number: str = ""
    project_name: str = ""


@dataclass(frozen=True)
class Field:
    """One input of an Accept form or a project-side form."""
    name: str
    label: str
    widget: str = "text"          # text | date | select | checkbox | textarea | number
    maxlength: int | None = None
    required: bool = False
    choices: tuple = ()           # ((value, label), ...) for select
    help: str = ""


@dataclass(frozen=True)
class EditedValues:
    """What an edit may change of an item, as people read it: its fields and its lines. An
    edit record is the difference between these before and after the edit (portal/domain/edits.py)."""
    fields: dict[str, tuple[str, str]]      # field name -> (label, value as shown)
    # line key (stable across the edit) -> (how people name the line: "line 2", {part: (label, value)})
    lines: dict[str, tuple[str, dict[str, tuple[str, str]]]]


def shown(field: Field, value: Any) -> str:
    """A form value as people read it: a choice's label, a checkbox's yes or no."""
    if field.widget == "checkbox":
        return "yes" if value not in (None, "", False, "0", "off") else "no"
    text = "" if value is None else str(value)
    return dict(field.choices).get(text, text) if field.choices else text


@dataclass(frozen=True)
class Detail:
    """What the approver's item page shows of an item: its header fields and its lines (or
    schedule of values), the first row of `lines` being the column headings."""
    fields: tuple[tuple[str, str], ...]
    lines: tuple[tuple[str, ...], ...] = ()
    lines_title: str = "Lines"


@dataclass(frozen=True)
class Attachment:
    """A file of an item: its name, size in bytes, and the page that serves it (endpoint, values)."""
    name: str
    size: int
    endpoint: str
    values: dict


@dataclass(frozen=True)
class Column:
    """One column of a tab or a project-side list: its label and the key in row values; on a
    tab, what it sorts by and what its totals row sums (SQL expressions on the type's model)."""
    label: str
    key: str
    css: str = ""
    sort: Any = None     # e.g. Invoice.number: the tab sorts by this column
    total: Any = None    # e.g. Invoice.total_retainage: the totals row sums it over what is filtered


@dataclass(frozen=True)
class Filters:
    """What a tab's grid filters its items by and what its search matches beside text
    (portal/domain/grid.py): SQL expressions on the type's model; None: the tab has no such
    filter (vendors have no vendor, jobs no amount)."""
    project: Any = None                    # an item's project id
    vendor: Any = None                     # an item's vendor id
    period: Any = None                     # the first day of its billing period
    dates: tuple[str, Any] | None = None   # (label, date) the date range filters on
    amount: tuple[str, Any] | None = None  # (label, amount) the amount range filters on
    amounts: tuple[Any, ...] = ()          # the amounts a search for an amount matches


class ItemType:
    """The base of every item type; a type overrides what differs from these defaults."""

    # ---- who it is -------------------------------------------------------------------
    key: ClassVar[str] = ""
    label: ClassVar[str] = ""            # "Subcontractor Invoice"
    plural: ClassVar[str] = ""           # "Subcontractor Invoices": the tab's name
    noun: str = ""                       # how a row names it: "invoice INV-001" (label, lower case, by default)
    scope: ClassVar[str] = "project"     # "project": lives in a project; "company": company level
    model: ClassVar[Any] = None

    # ---- the tab and the project-side list ---------------------------------------------
    columns: ClassVar[tuple[Column, ...]] = ()        # the tab's item columns
    list_columns: ClassVar[tuple[Column, ...]] = ()   # the project-side list's columns
    accept_column: ClassVar[str | None] = None        # a column to show Accept in (else Actions)
    filters: ClassVar[Filters] = Filters()            # what the tab filters by (none: the search only)
    bulk_note: ClassVar[str] = "Ticked items are exported with their default export fields."
    # the Accept fields no default fills (a Sage ID of its own): a bulk export asks them of each
    # ticked item in a form; none, and the defaults suffice (see bulk_asks)
    asks_each: ClassVar[tuple[str, ...]] = ()

    # ---- the project side ---------------------------------------------------------------
    generic_pages: ClassVar[bool] = True          # False: the type has pages of its own
    editable_after_create: ClassVar[bool] = True  # budget changes: never edited once created
    deletable: ClassVar[bool] = False             # a draft never sent may be deleted (see delete)

    # ---- Sage and settings --------------------------------------------------------------
    direct_export_setting: ClassVar[str | None] = None  # Settings' Direct Export key, if any
    erp_id_field: ClassVar[str | None] = None    # the export field holding the Sage ID
    sage_record_kind: ClassVar[str | None] = None  # what Unlink asks Sage about; None: no Unlink
    writes_back_on_sync: ClassVar[bool] = False  # on_synced writes to the item (it is loaded again)
    sync_key: ClassVar[str | None] = None        # the sync from Sage offered on its tab
    import_list: ClassVar[str | None] = None     # the Ready to Import list of that sync
    # Sage's setup this type's export needs: keys of the connector's setup checks (SetupCheck.key);
    # while one fails, Accept is refused and a queued export fails, both with the check's message
    setup_prerequisites: ClassVar[tuple[str, ...]] = ()
    holds_in_ap: ClassVar[bool] = False          # may be exported "on hold" (the insurance gate)

    def __init__(self) -> None:
        self.noun = self.noun or self.label.lower()

    @property
    def unlinkable(self) -> bool:
        return self.sage_record_kind is not None

    @property
    def list_title(self) -> str:
        """The heading of the project-side list."""
        return self.plural

    # ---- loading ------------------------------------------------------------------------
    def load_options(self) -> tuple:
        """Loader options for everything the type's hooks read (relationships are lazy="raise")."""
        return ()

    def tab_options(self) -> tuple:
        """What a tab row needs (often less than an export): many-to-one joined, so a page
        costs the same few queries at 10 rows and at 10,000."""
        return self.load_options()

    def load(self, session: Session, item_id: int) -> Any:
        # every row read (one_or_none): a collection loaded by a join needs all of them
        item = session.scalars(select(self.model).where(self.model.id == item_id)
                               .options(*self.load_options())).unique().one_or_none()
        if item is None:
            raise NotFound(f"That {self.label.lower()} does not exist.")
        return item

    def load_many(self, session: Session, item_ids: list[int], options: tuple | None = None) -> dict[int, Any]:
        if not item_ids:
            return {}
        items = session.scalars(select(self.model).where(self.model.id.in_(item_ids))
                                .options(*(self.load_options() if options is None else options))
                                ).unique().all()
        return {item.id: item for item in items}

    def project_id(self, item: Any) -> int | None:
        """The project whose tool level decides who may send it (None: company admins)."""
        return item.project_id

    def creator_id(self, item: Any) -> int | None:
        return item.created_by_id

    # ---- the lifecycle's type-specific parts --------------------------------------------
    def prerequisites(self, session: Session, item: Any) -> list[str]:
        """Reasons the item cannot be sent yet; empty when it can."""
        return []

    def insurance_subject(self, item: Any) -> tuple[str, int] | None:
        """(commitment type, vendor id) whose insurance certificates the compliance gate checks
        before the item is accepted; None: no gate."""
        return None

    def accept_fields(self, item: Any) -> list[Field]:
        return []

    def accept_details(self, item: Any) -> list[tuple[str, ...]] | None:
        """Rows shown above the Accept form (e.g. a budget's lines); None for none."""
        return None

    def export_defaults(self, item: Any) -> dict:
        return {}

    def bulk_asks(self, session: Session) -> tuple[str, ...]:
        """The Accept fields a bulk export asks of each ticked item, because no default fills
        them (a type whose default hangs on a setting decides here); () when the defaults suffice."""
        return self.asks_each

    def clean_export_fields(self, session: Session, item: Any, raw: dict) -> dict:
        """Validate the Accept form; raise Invalid(fields=...) on bad input."""
        return {}

    def parse_export_fields(self, session: Session, item: Any, raw: dict) -> dict:
        """The export fields of an Accept (typed, or the defaults of a bulk accept or Direct
        Export): every declared text field within its length and Sage's characters, then the
        type's own clean_export_fields. Invalid naming each bad field, nothing changed."""
        errors = text_errors(self.accept_fields(item), raw)
        try:
            fields = self.clean_export_fields(session, item, raw)
        except Invalid as exc:
            # every bad field named; the type's own words first, but for a character Sage cannot
            # store (its mask or lookup would only say the value is wrong, not why)
            unstorable = {key: message for key, message in errors.items()
                          if sage_character_problem(str(raw.get(key) or ""), "")}
            raise Invalid(exc.message, fields={**errors, **exc.fields, **unstorable}) from None
        invalid_if(errors)
        return fields

    def export_batches(self, session: Session, item_id: int, fields: dict, batch_id: str) -> list[Batch]:
        """What the export job submits: the item read with load() and mapped by build_batches.
        A type exported in volume may read just what its mapping needs, in fewer queries."""
        return self.build_batches(session, self.load(session, item_id), fields, batch_id)

    def export_batches_many(self, session: Session, items: list[tuple[int, dict, str]]) -> list[Mapped]:
        """export_batches of several items (item id, export fields, batch id) for one export job,
        in order: each item's batches, or the error that kept it from being mapped. A type
        exported in volume may read them all in a few queries. Here: the items read together
        (load_many, with load_options), each mapped by build_batches."""
        loaded = self.load_many(session, sorted({item_id for item_id, _, _ in items}))
        out: list[Mapped] = []
        for item_id, fields, batch_id in items:
            try:
                if item_id not in loaded:
                    raise NotFound(f"That {self.label.lower()} does not exist.")
                out.append(self.build_batches(session, loaded[item_id], fields, batch_id))
            except SQLAlchemyError:
                raise  # the read transaction is lost: not one item's fault
            except Exception as exc:  # noqa: BLE001 - the caller decides what each error means
                out.append(exc)
        return out

    def build_batch(self, session: Session, item: Any, fields: dict, batch_id: str) -> Batch:
        raise NotImplementedError(f"{type(self).__name__} must build its Sage batch")

    def build_batches(self, session: Session, item: Any, fields: dict, batch_id: str) -> list[Batch]:
        """The import files of one export, in order (a CCO's new commitment item before the
        CCO, a budget's new cost codes before the budget). Most types have one."""
        return [self.build_batch(session, item, fields, batch_id)]

    def summary(self, item: Any) -> ItemSummary:
        raise NotImplementedError(f"{type(self).__name__} must say what its emails show")

    def item_name(self, item: Any) -> str:
        """What a message calls the item: its number or code from the summary ("INV-1002"),
        else the summary's title; never a database id."""
        summary = self.summary(item)
        return summary.number or summary.title

    def on_synced(self, session: Session, item: Any, fields: dict, reference: str) -> None:
        """Write the Sage ID back to the item (vendors, jobs...); needs writes_back_on_sync."""

    def on_unlinked(self, session: Session, item: Any) -> None:
        """Clear what on_synced wrote (the item's Sage ID) once the item is unlinked from Sage."""

    def on_rejected(self, session: Session, item: Any, erp: ErpItem, company: str, base_url: str) -> list[OutboxMail]:
        """Mail besides the rejection notification when accounting rejects the item (added to the
        session; the caller commits and queues it)."""
        return []

    def attachments(self, session: Session, item: Any) -> list[Attachment]:
        """Files that came with the item (the approver's item page links them)."""
        return []

    def erp_ref(self, fields: dict, reference: str) -> str:
        """The Sage ID shown on Synced rows: the ERP ID field's value, else Sage's reference."""
        return (fields.get(self.erp_id_field) if self.erp_id_field else None) or reference

    def unlink_reference(self, erp: ErpItem, item: Any) -> dict:
        """What identifies the item's Sage record when Unlink asks whether Sage still holds it."""
        return {"reference": erp.erp_ref or ""}

    def linked_ref(self, item: Any) -> str | None:
        """The Sage ID of an item linked to Sage without going through the gate (imported,
        or set up before the integration); such an item counts as Synced."""
        return None

    # ---- the tab ------------------------------------------------------------------------
    def row_values(self, item: Any) -> dict:
        return {}

    def row_values_many(self, session: Session, items: list) -> dict[int, dict]:
        """Row values of a page of items; types whose values need more data override this
        to fetch it in one query for the page."""
        return {item.id: self.row_values(item) for item in items}

    def search_ids(self, q: str) -> Select:
        """A select of the ids of items matching q."""
        raise NotImplementedError(f"{type(self).__name__} must say how its tab is searched")

    # ---- the approver's item page --------------------------------------------------------
    def detail(self, item: Any, values: dict) -> Detail:
        """The item page's header fields (by default the tab's columns with the row's values)
        and lines (by default what the Accept form shows above itself, if anything)."""
        return Detail(tuple((c.label, str(values.get(c.key, ""))) for c in self.columns),
                      tuple(self.accept_details(item) or ()))

    # ---- the project side ---------------------------------------------------------------
    def list_items(self, session: Session, project_id: int | None) -> list:
        raise NotImplementedError(f"{type(self).__name__} must list its items")

    def form_fields(self, session: Session, project_id: int | None, item: Any | None) -> list[Field]:
        return []

    def line_fields(self, session: Session, project_id: int | None) -> list[Field]:
        """The columns of one line of the form (schedule of values, budget lines); [] for none."""
        return []

    def line_count(self, item: Any | None) -> int:
        """How many line rows the form shows (the item's lines and a few blank ones)."""
        return 0

    def form_values(self, item: Any) -> dict:
        return {}

    def edited_values(self, session: Session, item: Any) -> EditedValues:
        """The item's editable fields and lines as an edit record shows them. By default, the
        project-side form: its fields and its line columns with the item's form values (a
        line is named by its place: "line 2"); a type with pages of its own overrides this."""
        pid = None if self.scope == "company" else self.project_id(item)
        values = self.form_values(item)
        fields = {f.name: (f.label, shown(f, values.get(f.name))) for f in self.form_fields(session, pid, item)}
        parts = self.line_fields(session, pid)
        lines: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {}
        n = 0
        while parts and any(f"line-{n}-{p.name}" in values for p in parts):
            lines[str(n)] = (f"line {n + 1}", {p.name: (p.label, shown(p, values.get(f"line-{n}-{p.name}")))
                                               for p in parts})
            n += 1
        return EditedValues(fields, lines)

    def save(self, session: Session, actor: User, project_id: int | None, item: Any | None,
             form: dict) -> Any:
        """Create (item None) or update an item from the form; raise Invalid on bad input.
        Adds to the session without committing: the caller commits."""
        raise Invalid(f"{self.plural} are created and edited in the project's own tool.")

    def delete(self, session: Session, item: Any) -> None:
        """Delete a draft never sent (deletable types); raise Invalid when it is still in use."""
        raise Conflict(f"{self.plural} cannot be deleted here.")

    def project_page(self, project_id: int) -> tuple[str, dict]:
        """The endpoint (and its arguments) of a project's list of these items (project scope)."""
        return "items.index", {"project_id": project_id, "type_key": self.key}

    def detail_page(self, item: Any) -> tuple[str, dict] | None:
        """A page of the item's own (a vendor's insurance), linked from its list; None: none."""
        return None

    def link(self, erp: ErpItem) -> tuple[str, dict]:
        """Where the item lives on the project side (emails link there)."""
        if self.scope == "company" or erp.project_id is None:
            return "items.company_index", {"type_key": self.key}
        return self.project_page(erp.project_id)

    def edit_page(self, erp: ErpItem) -> tuple[str, dict]:
        """Where the project team fixes the item: its edit form, ready to edit (a rejection's
        mail and the Needs attention desk link there); its page when it has no edit form."""
        if not (self.generic_pages and self.editable_after_create):
            return self.link(erp)
        if self.scope == "company" or erp.project_id is None:
            return "items.company_edit", {"type_key": self.key, "item_id": erp.item_id}
        return "items.edit", {"project_id": erp.project_id, "type_key": self.key, "item_id": erp.item_id}


# ---- helpers the types' forms share ------------------------------------------------------

def invalid_if(errors: dict) -> None:
    """Raise one Invalid naming every bad field, when there are any."""
    if errors:
        raise Invalid("Please correct the highlighted fields.", fields=errors)


TEXT_WIDGETS = ("text", "textarea")
_LINE_KEY = re.compile(r"line-([0-9]{1,4})-(.+)")


def text_errors(fields: Iterable[Field], raw: dict, line_fields: Iterable[Field] = ()) -> dict[str, str]:
    """Errors (by form key) of the text inputs among `fields` and, on each line-<n>-<name> key,
    `line_fields`: required and blank, longer than the field's maxlength, or holding a character
    Sage cannot store (every item field goes to Sage). Checked on what was typed, before a type
    reads it."""
    errors: dict[str, str] = {}
    for f in fields:
        if f.widget not in TEXT_WIDGETS:
            continue
        value = raw.get(f.name)
        if f.required and not (value or "").strip():
            errors[f.name] = f"{f.label} is required."  # named with the others: every bad field at once
        elif problem := text_problem(value, f.label, f.maxlength):
            errors[f.name] = problem
    by_name = {f.name: f for f in line_fields if f.widget in TEXT_WIDGETS}
    for key, value in raw.items():
        match = _LINE_KEY.fullmatch(key)
        spec = by_name.get(match.group(2)) if match else None
        if match and spec and (problem := text_problem(value, f"Line {int(match.group(1)) + 1} {spec.label}",
                                                       spec.maxlength)):
            errors[key] = problem
    return errors


def check_length(errors: dict, fields: dict, name: str, label: str, limit: int | None,
                 required: bool = False) -> str:
    """Strip a form value and record a clear error when it is missing or too long."""
    value = (fields.get(name) or "").strip()
    if required and not value:
        errors[name] = f"{label} is required."
    elif limit is not None and len(value) > limit:
        errors[name] = too_long(label, limit, sage=True)
    return value


def exporting_with(session: Session, item_type: str, field_name: str, value: str, item_id: int,
                   project_id: int | None = None, states: tuple[str, ...] = ("exporting",)) -> bool:
    """True when another item of the type is being exported right now (or is in one of
    `states`) with the same Sage ID, case-insensitive: not synced yet, but the ID is taken as
    surely as if it were."""
    query = select(ErpItem.export_fields).where(ErpItem.item_type == item_type, ErpItem.item_id != item_id,
                                                ErpItem.state.in_(states))
    if project_id is not None:
        query = query.where(ErpItem.project_id == project_id)
    wanted = value.strip().upper()
    return any(str((fields or {}).get(field_name) or "").strip().upper() == wanted
               for fields in session.scalars(query))
