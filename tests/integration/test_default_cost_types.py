"""Default cost types per standard cost code (the guide's "Assign Default Cost Types To ERP Standard
Cost Codes": Standard and Admin on ERP Integrations): set and audited, refused with the field named,
used when a project cost code is created without a category, exported to Sage with it, and kept
by the Cost Codes sync.

Standard cost codes are company-wide: each test makes codes of its own (random suffixes) so the
shared ones (01-100, 03-300...) keep no default."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.domain import items, standard_codes, sync
from portal.domain.errors import Invalid, PermissionDenied
from portal.domain.models import SettingChange, StandardCategory, StandardCostCode, ToolLevel
from portal.exporters.sage300.records import JCCategory
from tests import factories as f
from tests.fake_sage import FakeSage, RecordingQueue
from tests.types import get_type


def standard(session, *categories: str) -> StandardCostCode:
    """A fresh standard cost code, and the standard cost types named (made when missing)."""
    have = set(session.scalars(select(StandardCategory.code)))
    session.add_all([StandardCategory(code=c, description=f"Type {c}") for c in categories if c not in have])
    code = StandardCostCode(code=f"D{f.suffix(6)}"[:12], description="Defaulted code", active=True)
    session.add(code)
    session.commit()
    return code


def test_standard_users_set_a_default_and_every_change_is_audited(session):
    code = standard(session, "MAT", "LAB")
    user = f.make_user(session, erp_level=ToolLevel.STANDARD)
    standard_codes.set_default_cost_type(session, user, code.id, " mat ")
    assert session.get(StandardCostCode, code.id).default_category == "MAT"
    standard_codes.set_default_cost_type(session, user, code.id, "MAT")  # no change: no audit row
    standard_codes.set_default_cost_type(session, user, code.id, "")
    assert session.get(StandardCostCode, code.id).default_category is None
    audits = session.scalars(select(SettingChange).where(SettingChange.key == standard_codes.audit_key(code.code))
                             .order_by(SettingChange.id)).all()
    assert [(a.old, a.new, a.actor_id) for a in audits] == [(None, "MAT", user.id), ("MAT", None, user.id)]


def test_refusals_change_nothing(session):
    code = standard(session, "MAT")
    with pytest.raises(PermissionDenied):  # Read Only on ERP Integrations (and an approver's push is not needed)
        standard_codes.set_default_cost_type(session, f.make_user(session, erp_level=ToolLevel.READ_ONLY),
                                             code.id, "MAT")
    with pytest.raises(Invalid) as bad:
        standard_codes.set_default_cost_type(session, f.make_user(session, erp_level=ToolLevel.ADMIN), code.id,
                                             "ZZZ")
    assert bad.value.fields == {"default_category": "Choose a standard cost type."}
    assert "Default cost type" in bad.value.message
    session.expire_all()
    assert session.get(StandardCostCode, code.id).default_category is None


def test_a_cost_code_created_without_a_category_gets_the_default_and_exports_it(session, sim):
    code = standard(session, "MAT", "LAB")
    standard_codes.set_default_cost_type(session, f.make_user(session, erp_level=ToolLevel.STANDARD), code.id, "LAB")
    setup = f.Setup(session, sim)
    admin = f.make_user(session, site_admin=True)
    made = items.save_item(session, admin, "cost_code", setup.project.id, None, {"standard_code": code.code})
    session.commit()
    cost_code_type = get_type("cost_code")
    loaded = cost_code_type.load(session, made.id)
    assert [c.code for c in loaded.categories] == ["LAB"]
    ticked = items.save_item(session, admin, "cost_code", f.Setup(session, sim).project.id, None,
                             {"standard_code": code.code, "category_MAT": "on"})
    session.commit()
    assert [c.code for c in cost_code_type.load(session, ticked.id).categories] == ["MAT"]  # a tick wins
    loaded = cost_code_type.load(session, made.id)
    fields = cost_code_type.clean_export_fields(session, loaded, {})
    batch = cost_code_type.build_batch(session, loaded, fields, "b-1")
    assert [(r.cost_code, r.category) for r in batch.records if isinstance(r, JCCategory)] == [(code.code, "LAB")]


def test_without_a_default_the_form_says_so(session, sim):
    code = standard(session, "MAT")
    setup = f.Setup(session, sim)
    with pytest.raises(Invalid) as refused:
        items.save_item(session, f.make_user(session, site_admin=True), "cost_code", setup.project.id, None,
                        {"standard_code": code.code})
    assert refused.value.fields == {"_": f"Tick at least one category. Cost code {code.code} has no default cost type."}


def test_the_cost_codes_sync_keeps_the_default(session):
    code = standard(session, "MAT")
    code.default_category = "MAT"
    session.commit()
    sage = FakeSage()
    sage.standard_codes.append({"Cost_Code": code.code, "Description": "Renamed in Sage", "Status": "Active"})
    queue = RecordingQueue()
    run = sync.start(session, f.make_user(session, erp_level=ToolLevel.ADMIN), "cost_codes", queue)
    sync.execute(session, run.id, sage)
    session.expire_all()
    refreshed = session.get(StandardCostCode, code.id)
    assert (refreshed.description, refreshed.default_category) == ("Renamed in Sage", "MAT")
