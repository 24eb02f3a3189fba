"""Linking an item to a record already in Sage (Ready to Import) at the moment someone else links
the same Sage record, or sends the item (tests/races.py's at_once: threads, each with its own
signed-in test client): one wins, the other answers 409 with the row as it now is and who did what
and when, never a server error nor the generic "Someone else changed this item"."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.domain.lifecycle import State
from portal.domain.models import ErpAudit, ErpItem, ToolLevel, Vendor
from portal.domain.sage_models import SageRecord
from tests import factories as f
from tests.factories import app_session as dbs
from tests.items import item_url
from tests.races import at_once
from tests.web.pages import World, text

TRIALS = 10  # per pairing
ROLE_USERS = {"approver": dict(erp_level=ToolLevel.ADMIN, push=True),
              "second_approver": dict(erp_level=ToolLevel.ADMIN, push=True),
              "project_admin": {}, "site_admin": dict(site_admin=True)}


@pytest.fixture
def world(app, sim, people):
    return World(app, sim, people)


def linked(app, record_id: int, *vendor_ids: int) -> tuple[str, list, list]:
    """The record's status, the companies that carry a Sage vendor ID and the LINK moves recorded on them."""
    with dbs(app) as s:
        status = s.get(SageRecord, record_id).status
        carried = s.scalars(select(Vendor.id).where(Vendor.id.in_(vendor_ids), Vendor.erp_vendor_id.is_not(None))).all()
        links = s.scalars(select(ErpAudit.action).join(ErpItem, ErpItem.id == ErpAudit.erp_item_id).where(
            ErpItem.item_type == "vendor", ErpItem.item_id.in_(vendor_ids), ErpAudit.action == "link")).all()
        return status, list(carried), list(links)


@pytest.mark.parametrize("pairing", ["link vs link", "link vs send"])
def test_a_link_that_loses_the_race_is_told_409_with_what_happened(app, sim, clients, people, world, pairing):
    """Linking a company to a vendor already in Sage, at the moment another approver links the same
    Sage vendor to another company (or the directory's admin sends the company to ERP): one wins,
    the other answers 409 with the row as it now is and who did what and when."""
    for _ in range(TRIALS):
        with dbs(app) as s:
            record_id, sage_id = f.sage_vendor(s, sim)
        company, other = world.item("vendor"), world.item("vendor")
        link = ("approver", f"/erp/import/vendors/{record_id}/link", {"vendor_id": str(company.id)})
        rival = (("second_approver", f"/erp/import/vendors/{record_id}/link", {"vendor_id": str(other.id)})
                 if pairing == "link vs link" else ("site_admin", item_url(company, "send"), {}))
        got = at_once(clients, [link, rival])
        errors = [g for g in got if isinstance(g, Exception)]
        assert not errors, errors
        codes = [r.status_code for r in got]
        assert all(c < 500 for c in codes), codes
        link_won = got[0].status_code == 303
        loser = got[1] if link_won else got[0]
        # one wins; a losing Link is a 409, and so is a losing Send, unless it came after the link
        # had finished: then its prerequisite ("already linked") refuses it, a 422
        rival_won, rival_lost = (303, (409,)) if pairing == "link vs link" else (200, (409, 422))
        assert (codes[0] == 303 and codes[1] in rival_lost) or codes == [409, rival_won], codes
        status, carried, links = linked(app, record_id, company.id, other.id)
        if pairing == "link vs link":
            winner, by = (company, "approver") if link_won else (other, "second_approver")
            assert status == "linked" and carried == [winner.id] and links == ["link"], (status, carried, links)
            told = f"Vendor {sage_id} was already linked to {winner.title} by {people[by].name} at "
        elif link_won:
            assert status == "linked" and carried == [company.id] and links == ["link"]
            told = (f"{company.title} is already Synced (linked to Sage by {people['approver'].name} at "
                    if loser.status_code == 409 else f"This company is already linked to Sage vendor {sage_id}.")
        else:
            assert status == "pending" and carried == [] and links == []
            assert world.erp_of("vendor", company.id).state == State.READY
            told = f"{company.title} is now Ready to Export (sent by {people['site_admin'].name} at "
        assert told in text(loser), text(loser)[:1500]
        assert "Someone else changed" not in text(loser)
