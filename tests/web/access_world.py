"""The data the role x route matrix (test_access.py) and the fuzz (tests/fuzzing.py) request:
made on first use, shared by every role of one route."""
from __future__ import annotations

from datetime import date, timedelta
from functools import cached_property

from sqlalchemy import select

from portal.domain import api_tokens, signed
from portal.domain.billing_models import AccountInvitation, BillingPeriod, BillInvitation, InvoiceContact, PeriodStatus
from portal.domain.lifecycle import State
from portal.domain.models import MailStatus, OutboxMail, Project, StandardCategory, StandardCostCode, Vendor, utcnow
from portal.domain.sage_models import ImportStatus, SageRecord, SyncRun, SyncStatus
from tests import factories as f, items as it
from tests.web import pages

dbs = f.app_session


# ---- the data a request needs, made on first use -------------------------------------------------

class World(pages.World):
    """Fresh data (random suffixes) for the requests of one route: what a refused request must leave
    alone, or what one allowed request changes. One item per type and state, made on first use and
    sent by a site administrator ("sender")."""

    sender = "sender"

    def __init__(self, app, sim, people, home: it.Home | None = None):
        super().__init__(app, sim, people, home)
        self._items: dict = {}

    def item(self, key: str, state: str = State.DRAFT) -> it.Item:
        if (key, state) not in self._items:
            self._items[key, state] = super().item(key, state)
        return self._items[key, state]

    def unlinkable(self, key: str) -> it.Item:
        """A synced item whose record the Sage user has deleted (when the type can be unlinked at all)."""
        if (key, "unlinkable") not in self._items:
            item = self.item(key, State.SYNCED)
            if it.builder(key).sage_delete:
                it.builder(key).sage_delete(self.sim, item)
            self._items[key, "unlinkable"] = item
        return self._items[key, "unlinkable"]

    @cached_property
    def targets(self) -> dict:
        return {}

    def target(self, key: str) -> it.Home:
        """The project a new item of the type goes on."""
        if key not in self.targets:
            home = self.home
            with dbs(self.app) as s:
                self.targets[key] = it.target_home(s, self.sim, key, home)
        return self.targets[key]

    def new_form(self, key: str) -> dict:
        target = self.target(key)
        with dbs(self.app) as s:
            return it.form_data(s, self.sim, key, target)

    @cached_property
    def edits(self) -> dict:
        return {}

    def edit(self, key: str) -> tuple[dict, object]:
        """The draft's edit form and its marker (made once: the refused and the allowed request send the same)."""
        if key not in self.edits:
            item = self.item(key)
            with dbs(self.app) as s:
                self.edits[key] = it.edit_data(s, item)
        return self.edits[key]

    @cached_property
    def accepts(self) -> dict:
        return {}

    def accept(self, key: str) -> dict:
        if key not in self.accepts:
            item = self.item(key, State.READY)
            with dbs(self.app) as s:
                self.accepts[key] = it.accept_data(s, self.sim, item)
        return self.accepts[key]

    # -- for the routes without a type

    @cached_property
    def mail(self) -> int:
        with dbs(self.app) as s:
            mail = OutboxMail(recipients="nobody@example.com", subject="Matrix", text_body="t",
                              html_body="<p>t</p>", status=MailStatus.FAILED, attempts=5)
            s.add(mail)
            s.commit()
            return mail.id

    @cached_property
    def target_user(self) -> int:
        with dbs(self.app) as s:
            return f.make_user(s, name="Target Person", email="target@example.com").id

    @cached_property
    def target_token(self) -> int:
        with dbs(self.app) as s:
            api_tokens.create_token(s, self.target_user, f"target {self.token}")
            return api_tokens.tokens_of(s, self.target_user)[0].id

    @cached_property
    def new_username(self) -> str:
        return f"new{self.token.lower()}"

    @cached_property
    def vendor_record(self) -> tuple[int, str]:
        with dbs(self.app) as s:
            return f.sage_vendor(s, self.sim)

    @cached_property
    def archived_record(self) -> tuple[int, str]:
        with dbs(self.app) as s:
            return f.sage_vendor(s, self.sim, status=ImportStatus.ARCHIVED)

    @cached_property
    def company(self) -> int:
        """A company of the directory not linked to Sage."""
        with dbs(self.app) as s:
            vendor = Vendor(name=f"Directory Co {self.token}")
            s.add(vendor)
            s.commit()
            return vendor.id

    @cached_property
    def exact(self) -> int:
        """A Sage vendor whose name is exactly one unlinked company's: its record id."""
        name = f"Exact Match {self.token}"
        with dbs(self.app) as s:
            s.add(Vendor(name=name))
            s.commit()
            return f.sage_vendor(s, self.sim, name=name)[0]

    @cached_property
    def standard_code(self) -> int:
        """A standard cost code of the company's list, with no default cost type (MAT is a standard cost type)."""
        with dbs(self.app) as s:
            if s.scalars(select(StandardCategory).where(StandardCategory.code == "MAT")).first() is None:
                s.add(StandardCategory(code="MAT", description="Material"))
            code = StandardCostCode(code=f"S{self.token}"[:12], description="Standard code")
            s.add(code)
            s.commit()
            return code.id

    @cached_property
    def job_record(self) -> tuple[int, str]:
        with dbs(self.app) as s:
            return f.sage_job(s, self.sim)

    @cached_property
    def linkable_project(self) -> int:
        """A project never exported to Sage."""
        with dbs(self.app) as s:
            project = Project(number=f"L-{self.token}", name=f"Linkable {self.token}")
            s.add(project)
            s.commit()
            return project.id

    @cached_property
    def extra_record(self) -> tuple[int, str]:
        home = self.home
        with dbs(self.app) as s:
            return f.sage_extra(s, self.sim, home.job)

    @cached_property
    def contract_record(self) -> tuple[int, str]:
        home = self.home
        with dbs(self.app) as s:
            return f.sage_contract(s, self.sim, home.job)

    @cached_property
    def imported_contract(self) -> tuple[int, int]:
        """A prime contract imported from Sage that has a new line item there since: (record id, contract id)."""
        from portal.domain import ready_to_import as rti
        from portal.exporters.sage300 import imports
        record_id, number = self.contract_record
        with dbs(self.app) as s:
            contract = rti.import_contract(s, self.user(s, "approver"), record_id)
            contract_id = contract.id
            self.sim.add_contract_item(number, "300", "Canopy", 500)
            record = s.get(SageRecord, record_id)
            data = imports.prime_contract(self.sim.get_job(self.home.job), self.sim.get_contract(number),
                                          self.sim.list_contract_items(number), [])
            record.data = imports.jsonable({**data, "job": self.home.job})
            record.digest = imports.digest(record.data)
            s.commit()
        return record_id, contract_id

    @cached_property
    def new_sage_code(self) -> str:
        """A cost code (with a category) added to the home's job in Sage since it was synced."""
        home = self.home
        self.sim.add_cost_code(home.job, "09-900", "Painting")
        self.sim.add_category(home.job, "09-900", "LAB", "Labor")
        return "09-900"

    @cached_property
    def sync_run(self) -> int:
        """A finished sync run."""
        with dbs(self.app) as s:
            run = SyncRun(kind="vendors", scope="", status=SyncStatus.DONE, message="0 added",
                          finished_at=utcnow())
            s.add(run)
            s.commit()
            return run.id

    # -- billing: invoice contacts, periods, invitations (issue 11)

    @cached_property
    def contact(self) -> int:
        """An invoice contact (a user of the home's vendor) on the home's commitment: their id."""
        home = self.home
        with dbs(self.app) as s:
            user = f.make_user(s)
            user.vendor_id = home.vendor
            s.add(InvoiceContact(commitment_id=home.commitment, user_id=user.id))
            s.commit()
            return user.id

    @cached_property
    def open_period(self) -> int:
        """An open manual billing period on the home."""
        home = self.home
        with dbs(self.app) as s:
            period = BillingPeriod(project_id=home.pid, start_date=date(2026, 10, 1), end_date=date(2026, 10, 31),
                                   billing_date=date(2026, 10, 31), due_date=date(2026, 10, 25),
                                   status=PeriodStatus.OPEN)
            s.add(period)
            s.commit()
            return period.id

    @cached_property
    def bill_invitation(self) -> tuple[int, str]:
        """The contact's invitation to bill the open period: (its id, its signed token)."""
        contact, period = self.contact, self.open_period
        with dbs(self.app) as s:
            invitation = BillInvitation(period_id=period, commitment_id=self.home.commitment, user_id=contact)
            s.add(invitation)
            s.commit()
            return invitation.id, signed.sign(self.app.config["SECRET_KEY"], signed.BILL, invitation.id)

    @cached_property
    def account_link(self) -> str:
        """A new contact's valid account invitation token, mailed a while ago (a new one may be asked for)."""
        contact = self.contact
        with dbs(self.app) as s:
            invitation = AccountInvitation(user_id=contact, created_at=utcnow() - timedelta(minutes=5),
                                           expires_at=utcnow() + timedelta(days=1))
            s.add(invitation)
            s.commit()
            return signed.sign(self.app.config["SECRET_KEY"], signed.ACCOUNT, invitation.id)
