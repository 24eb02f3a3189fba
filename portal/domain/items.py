"""The project side of every generic item type: list with ERP state, create, edit."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import edits, policy
from portal.domain.errors import Conflict, Invalid, NotFound, PermissionDenied
from portal.domain.lifecycle import EDITABLE, State
from portal.domain.models import ErpItem, Project, ProjectMember, ToolLevel, User
from portal.domain.services import find_erp_item, project_level
from portal.domain.types import Field, ItemType, get_type
from portal.domain.types.base import invalid_if, text_errors
from portal.domain.uow import commit, transactional


@dataclass
class ItemRow:
    item: Any
    erp: ErpItem | None
    reasons: list[str]
    level: str              # the user's level on the item's project tool
    linked: str | None = None  # Sage ID of an item linked outside the gate

    @property
    def state(self) -> str:
        if self.erp is not None:
            return self.erp.state
        return State.SYNCED if self.linked else State.DRAFT

    @property
    def editable(self) -> bool:
        return self.state in EDITABLE


def _scope(session: Session, user: User, item_type: ItemType, project_id: int | None):
    """The project (None for company items) after checking the user may look at it."""
    if item_type.scope == "company":
        if project_id is not None:
            raise NotFound("That item type is kept at company level.")
        return None
    project = session.get(Project, project_id) if project_id else None
    if project is None:
        raise NotFound("No such project.")
    level = project_level(session, user, project.id)
    if not policy.can(user, policy.VIEW_PROJECT, project_level=level):
        raise PermissionDenied("You do not have access to this project.")
    return project


def item_level(session: Session, user: User, item_type: ItemType, item: Any | None,
               project: Project | None) -> str:
    pid = item_type.project_id(item) if item is not None else (project.id if project else None)
    if user.is_site_admin:
        return ToolLevel.ADMIN
    return project_level(session, user, pid)


def list_items(session: Session, user: User, type_key: str, project_id: int | None):
    """(item_type, project, rows) with every item's ERP state and why it cannot be sent."""
    item_type = get_type(type_key)
    project = _scope(session, user, item_type, project_id)
    items = item_type.list_items(session, project.id if project else None)
    erps = {e.item_id: e for e in session.scalars(select(ErpItem).where(
        ErpItem.item_type == item_type.key, ErpItem.item_id.in_([i.id for i in items])))} if items else {}
    levels = {}
    if item_type.scope == "company" and not user.is_site_admin:
        levels = {m.project_id: m.level for m in session.scalars(
            select(ProjectMember).where(ProjectMember.user_id == user.id))}
    base = item_level(session, user, item_type, None, project)
    rows = []
    for item in items:
        level = base
        if item_type.scope == "company" and (pid := item_type.project_id(item)) is not None \
                and not user.is_site_admin:
            level = levels.get(pid, ToolLevel.NONE)
            if level == ToolLevel.NONE:
                continue  # a project the user has no access to is not listed
        rows.append(ItemRow(item, erps.get(item.id), item_type.prerequisites(session, item), level,
                            item_type.linked_ref(item)))
    return item_type, project, rows


def item_row(session: Session, user: User, type_key: str, project_id: int | None, item_id: int):
    """(item_type, project, row) of one item the user may see: a company-level item of a project
    (a job) only for the project's members, as on the list."""
    item_type = get_type(type_key)
    project = _scope(session, user, item_type, project_id)
    item = item_type.load(session, item_id)
    if project is not None and item_type.project_id(item) != project.id:
        raise NotFound(f"That {item_type.label.lower()} is not on this project.")
    level = item_level(session, user, item_type, item, project)
    if project is None and item_type.project_id(item) is not None and level == ToolLevel.NONE:
        raise PermissionDenied("You do not have access to this project.")
    erp = find_erp_item(session, item_type.key, item.id)
    return item_type, project, ItemRow(item, erp, item_type.prerequisites(session, item), level,
                                       item_type.linked_ref(item))


def list_scope(session: Session, user: User, type_key: str, project_id: int | None):
    """(item_type, project, level) for pages that need no item."""
    item_type = get_type(type_key)
    project = _scope(session, user, item_type, project_id)
    return item_type, project, item_level(session, user, item_type, None, project)


@transactional
def delete_item(session: Session, user: User, type_key: str, project_id: int | None,
                item_id: int) -> ItemType:
    """Delete a draft never sent, where the type allows it (Admin on its tool)."""
    item_type, project, row = item_row(session, user, type_key, project_id, item_id)
    if not policy.can(user, policy.SEND, project_level=row.level):
        raise PermissionDenied(f"Deleting {item_type.plural.lower()} needs Admin on its tool.")
    if not item_type.deletable:
        raise Conflict(f"{item_type.plural} cannot be deleted here.")
    if row.erp is not None:
        raise Conflict("It has been sent to ERP Integrations; its history is kept, so it cannot "
                       "be deleted.")
    item_type.delete(session, row.item)
    commit(session, f"Other records still use this {item_type.label.lower()}; it cannot be deleted.")
    return item_type


@dataclass
class ItemForm:
    """The project-side form of a new or existing item, with what the user typed."""
    item_type: ItemType
    project: Project | None
    row: ItemRow | None
    fields: list[Field]
    line_fields: list[Field]
    line_count: int
    values: dict


def _form_scope(session: Session, user: User, type_key: str, project_id: int | None, item_id: int | None):
    """(item_type, project, row) of a create (item_id None) or edit form the user may use."""
    item_type = get_type(type_key)
    if not item_type.generic_pages:
        raise Invalid(f"{item_type.plural} are created and edited in the project's own tool.")
    if item_id is None:
        project = _scope(session, user, item_type, project_id)
        row, level = None, item_level(session, user, item_type, None, project)
    else:
        item_type, project, row = item_row(session, user, type_key, project_id, item_id)
        level = row.level
    if not policy.can(user, policy.SEND, project_level=level):
        raise PermissionDenied(f"Creating and editing {item_type.plural.lower()} needs Admin on its tool.")
    if row is not None and not item_type.editable_after_create:
        raise Conflict(f"Once a {item_type.label.lower()} has been created, it cannot be edited.")
    return item_type, project, row


def item_form(session: Session, user: User, type_key: str, project_id: int | None, item_id: int | None,
              values: dict | None = None) -> ItemForm:
    """The form to create (item_id None) or edit an item: its fields, line columns and values
    (the item's own, or `values` as typed)."""
    item_type, project, row = _form_scope(session, user, type_key, project_id, item_id)
    pid = project.id if project else None
    item = row.item if row else None
    line_fields = item_type.line_fields(session, pid)
    return ItemForm(item_type, project, row, item_type.form_fields(session, pid, item), line_fields,
                    item_type.line_count(item) if line_fields else 0,
                    values if values is not None else (item_type.form_values(item) if item else {}))


@transactional
def save_item(session: Session, user: User, type_key: str, project_id: int | None,
              item_id: int | None, form: dict):
    """Create or edit an item (Admin on its tool; only while draft or rejected)."""
    item_type, project, row = _form_scope(session, user, type_key, project_id, item_id)
    if row is not None and not row.editable:
        raise Conflict(f"It is {State.LABELS[row.state]} in ERP Integrations and cannot be "
                       "edited; retrieve it first.")
    pid = project.id if project else None
    # every declared text within its length and Sage's characters before the type reads any
    invalid_if(text_errors(item_type.form_fields(session, pid, row.item if row else None), form,
                           item_type.line_fields(session, pid)))
    if row is None:
        item = item_type.save(session, user, pid, None, form)
    else:
        with edits.recording(session, user, item_type, row.item, row.erp):
            item = item_type.save(session, user, pid, row.item, form)
    commit(session)
    return item
