"""The company's standard cost codes and cost types (read from Sage) and the one thing set on them
in the portal: each standard cost code's default cost type (the guide's "Assign Default Cost Types
To ERP Standard Cost Codes", Standard and Admin on the ERP Integrations tool). A project cost code
created from a standard code without a cost type gets its default, and is exported with it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import policy
from portal.domain.errors import Invalid, NotFound, PermissionDenied
from portal.domain.models import SettingChange, StandardCategory, StandardCostCode, User, utcnow
from portal.domain.uow import transactional


def audit_key(code: str) -> str:
    """The SettingChange key of a standard cost code's default cost type."""
    return f"default_cost_type:{code}"


@transactional
def set_default_cost_type(session: Session, actor: User, code_id: int, category: str | None) -> StandardCostCode:
    """Give a standard cost code a default cost type (a standard category's code), or none (blank);
    every change audited (who, from, to)."""
    if not policy.can(actor, policy.ASSIGN_COST_TYPES):
        raise PermissionDenied("Assigning default cost types needs Standard or Admin on the ERP Integrations tool.")
    standard = session.get(StandardCostCode, code_id)
    if standard is None:
        raise NotFound("There is no such standard cost code.")
    wanted = (category or "").strip().upper() or None
    known = session.scalar(select(StandardCategory.id).where(StandardCategory.code == wanted)) if wanted else None
    if wanted is not None and known is None:
        raise Invalid(f"Default cost type: {wanted[:10]} is not a standard cost type from Sage.",
                      fields={"default_category": "Choose a standard cost type."})
    if standard.default_category != wanted:
        session.add(SettingChange(key=audit_key(standard.code), old=standard.default_category, new=wanted,
                                  actor_id=actor.id, at=utcnow()))
        standard.default_category = wanted
    session.commit()
    return standard

