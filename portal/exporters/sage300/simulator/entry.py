"""Data entry as a Sage user makes it: the adders (add_*), setters (set_*), updaters
(update_*), posting, and the deletions a Sage user makes before the portal unlinks an item.
Adders and updaters raise SageInputError (a ValueError naming the field) on bad input,
leaving Sage unchanged."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ..mapping import SCHEDULE_VALUE_CHANGE
from .rules import (
    AP_COST,
    CATEGORY_INPUT,
    CONTRACT_INPUT,
    COST_CODE_INPUT,
    COST_INPUT,
    COST_TYPES,
    EXTRA_INPUT,
    JOB_INPUT,
    JOB_STATUSES,
    LABELS,
    SCHEDULE_VALUE_INPUT,
    STANDARD_CATEGORY_INPUT,
    STANDARD_CODE_STATUSES,
    STANDARD_COST_CODE_INPUT,
    USE_CONTRACTS,
    USE_QUICKBILL,
    VENDOR_INPUT,
    VENDOR_STATUSES,
    Amount,
    SageInputError,
    check_billing,
    check_choice,
    check_input,
    coding_name,
    dec,
    money_input,
    off_by_more_than_a_cent,
    quantity_input,
    renamed,
    too_long_for,
)
from .schema import (
    SimulatorBase,
    ar_distribution_t,
    ar_invoice_t,
    category_t,
    commitment_co_item_t,
    commitment_co_t,
    commitment_item_t,
    commitment_t,
    contract_item_t,
    contract_t,
    cost_code_t,
    customer_t,
    distribution_t,
    exists,
    extra_t,
    invoice_t,
    job_t,
    naive_utc,
    payment_t,
    pcco_change_rows,
    schedule_value_t,
    standard_category_t,
    standard_cost_code_t,
    transaction_t,
    vendor_t,
)


class EntryMixin(SimulatorBase):
    """What a Sage user enters, changes and deletes."""

    # ---- seeding -----------------------------------------------------------------

    def _insert(self, table, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(table).values(**values))

    def _add(self, table, field: str, record: str, **values) -> None:
        """Insert one row; a duplicate key (a lost race too) is a SageInputError on `field` naming `record`."""
        key = {c.name: values[c.name] for c in table.primary_key.columns}
        try:
            with self.engine.begin() as conn:
                if exists(conn, table, **key):
                    raise SageInputError(field, f"{record} already exists in Sage 300 CRE.")
                conn.execute(insert(table).values(**values))
        except IntegrityError as exc:
            raise SageInputError(field, f"{record} already exists in Sage 300 CRE.") from exc

    def add_vendor(self, vendor: str, name: str = "", address_1: str = "", address_2: str = "",
                   city: str = "", state: str = "", zip: str = "", telephone: str = "", fax: str = "",
                   status: str = "Active") -> None:
        """An AP vendor entered in Sage; SageInputError when blank, too long or already there."""
        values = dict(vendor=vendor, name=name, address_1=address_1, address_2=address_2, city=city,
                      state=state, zip=zip, telephone=telephone, fax=fax)
        check_input(values, VENDOR_INPUT, required=("vendor", "name"))
        check_choice("status", status, VENDOR_STATUSES)
        self._add(vendor_t, "vendor", f"Vendor {vendor}", Vendor=vendor, Name=name, Address_1=address_1,
                  Address_2=address_2, City=city, State=state, ZIP=zip, Telephone=telephone, Fax=fax,
                  Status=status)

    def add_job(self, job: str, description: str = "", address_1: str = "", address_2: str = "",
                city: str = "", state: str = "", zip: str = "", status: str = "Open",
                billing_method: str = USE_CONTRACTS, billing_level: str = "") -> None:
        """A JC job entered in Sage, with its billing method (and level, for Use Quickbill)."""
        values = dict(job=job, description=description, address_1=address_1, address_2=address_2,
                      city=city, state=state, zip=zip, status=status)
        check_input(values, JOB_INPUT, required=("job",))
        check_billing(billing_method, billing_level)
        self._add(job_t, "job", f"Job {job}", Job=job, Description=description, Address_1=address_1,
                  Address_2=address_2, City=city, State=state, ZIP=zip, Status=status,
                  Billing_Method=billing_method, Billing_Level=billing_level)

    def add_cost_code(self, job: str, cost_code: str, description: str, extra: str = "") -> None:
        """A cost code on a job (extra "") or an extra."""
        check_input(dict(job=job, extra=extra, cost_code=cost_code, description=description),
                     COST_CODE_INPUT, required=("job", "cost_code"))
        self._need(job_t, "job", f"No job {job} in Sage 300 CRE.", Job=job)
        self._add(cost_code_t, "cost_code", coding_name(job, extra, cost_code), Job=job, Extra=extra,
                  Cost_Code=cost_code, Description=description)

    def add_category(self, job: str, cost_code: str, category: str, description: str, extra: str = "") -> None:
        """A category on a job's (or extra's) cost code."""
        check_input(dict(job=job, extra=extra, cost_code=cost_code, category=category,
                          description=description), CATEGORY_INPUT, required=("job", "cost_code", "category"))
        self._need(cost_code_t, "cost_code", f"No cost code {coding_name(job, extra, cost_code)} in Sage 300 CRE.",
                   Job=job, Extra=extra, Cost_Code=cost_code)
        self._add(category_t, "category", f"Category {category} of {coding_name(job, extra, cost_code)}", Job=job,
                  Extra=extra, Cost_Code=cost_code, Category=category, Description=description)

    def add_coding(self, job: str, cost_code: str, category: str, cost_code_description: str = "",
                   category_description: str = "", extra: str = "") -> None:
        """A category on a job's (or extra's) cost code, adding the cost code when new (all or nothing)."""
        check_input(dict(job=job, extra=extra, cost_code=cost_code, category=category),
                     CATEGORY_INPUT, required=("job", "cost_code", "category"))
        check_input(dict(cost_code_description=cost_code_description,
                          category_description=category_description),
                     (("cost_code_description", 30), ("category_description", 30)))
        with self.engine.begin() as conn:
            if not exists(conn, job_t, Job=job):
                raise SageInputError("job", f"No job {job} in Sage 300 CRE.")
            if extra and not exists(conn, extra_t, Job=job, Extra=extra):
                raise SageInputError("extra", f"No extra {extra} on job {job} in Sage 300 CRE.")
            if exists(conn, category_t, Job=job, Extra=extra, Cost_Code=cost_code, Category=category):
                raise SageInputError("category", f"Category {category} of {coding_name(job, extra, cost_code)} "
                                                 "already exists in Sage 300 CRE.")
            if not exists(conn, cost_code_t, Job=job, Extra=extra, Cost_Code=cost_code):
                conn.execute(insert(cost_code_t).values(Job=job, Extra=extra, Cost_Code=cost_code,
                                                        Description=cost_code_description))
            conn.execute(insert(category_t).values(Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                                                   Description=category_description))

    def add_extra(self, job: str, extra: str, description: str = "", status: str = "Open") -> None:
        """An extra (sub job) on a job."""
        check_input(dict(job=job, extra=extra, description=description), EXTRA_INPUT,
                     required=("job", "extra"))
        check_choice("status", status, JOB_STATUSES)
        self._need(job_t, "job", f"No job {job} in Sage 300 CRE.", Job=job)
        self._add(extra_t, "extra", f"Extra {extra} of job {job}", Job=job, Extra=extra, Description=description,
                  Status=status)

    def _need(self, table, field: str, message: str, **key) -> None:
        with self.engine.connect() as conn:
            if not exists(conn, table, **key):
                raise SageInputError(field, message)

    def set_extra_status(self, job: str, extra: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(extra_t).where(extra_t.c.Job == job, extra_t.c.Extra == extra)
                         .values(Status=status))

    def add_commitment(self, commitment: str, vendor: str, job: str, amount: Amount, description: str = "",
                       commitment_type: str = "Subcontract", status: str = "Open") -> None:
        self._insert(commitment_t, Commitment=commitment, Vendor=vendor, Job=job, Description=description,
                     Commitment_Type=commitment_type, Amount=Decimal(str(amount)), Status=status)

    def set_commitment_amount(self, commitment: str, amount: Amount) -> None:
        """Approved amount incl. approved changes (e.g. after a commitment CO)."""
        with self.engine.begin() as conn:
            conn.execute(update(commitment_t).where(commitment_t.c.Commitment == commitment)
                         .values(Amount=Decimal(str(amount))))

    def set_vendor_status(self, vendor: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(vendor_t).where(vendor_t.c.Vendor == vendor).values(Status=status))

    def set_job_status(self, job: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(job_t).where(job_t.c.Job == job).values(Status=status))

    def add_commitment_item(self, commitment: str, item: str, job: str, cost_code: str, category: str,
                            amount: Amount, description: str = "", extra: str = "", units: Amount | None = None,
                            unit_cost: Amount | None = None, unit_description: str = "") -> None:
        """A commitment item as in Sage (the commitment's Amount is left as it is)."""
        self._insert(commitment_item_t, Commitment=commitment, Item=item, Description=description, Job=job,
                     Extra=extra, Cost_Code=cost_code, Category=category, Units=dec(units),
                     Unit_Cost=dec(unit_cost), Unit_Description=unit_description,
                     Amount=Decimal(str(amount)))

    def set_commitment_status(self, commitment: str, status: str) -> None:
        """Open, or Closed / Archived (no change order is then accepted)."""
        with self.engine.begin() as conn:
            conn.execute(update(commitment_t).where(commitment_t.c.Commitment == commitment)
                         .values(Status=status))

    def add_commitment_co(self, commitment: str, cco: str, description: str = "", date: date | None = None,
                          status: str = "Approved") -> None:
        """A commitment change order entered in Sage (no items, the commitment's Amount unchanged)."""
        self._insert(commitment_co_t, Commitment=commitment, CCO=cco, Description=description,
                     Date=date or naive_utc(self.clock()).date(), Status=status)

    def add_transaction(self, job: str, cost_code: str, category: str, transaction_type: str, amount: Amount,
                        extra: str = "", date: date | None = None, description: str = "",
                        posted: bool = True, ref_1: str = "", ref_2: str = "", commitment: str = "",
                        contract: str = "", contract_item: str = "", units: Amount | None = None,
                        unit_cost: Amount | None = None) -> None:
        """A Job Cost transaction entered in Sage (e.g. an estimate made there)."""
        self._insert(transaction_t, Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                     Transaction_Type=transaction_type, Date=date or naive_utc(self.clock()).date(),
                     Description=description, Amount=Decimal(str(amount)), Ref_1=ref_1, Ref_2=ref_2,
                     Commitment=commitment, Commitment_Item="", Commitment_CO="", Contract=contract,
                     Contract_Item=contract_item, Posted=posted, Batch_ID="", Units=dec(units),
                     Unit_Cost=dec(unit_cost))

    def add_contract(self, contract: str, job: str, description: str = "",
                     items: Iterable[tuple] = (), status: str = "Open",
                     billing_method: str = USE_CONTRACTS, work_started: date | None = None,
                     work_completed: date | None = None) -> None:
        """A prime contract (CN) on a Use Contracts job, items as (item, description, original amount),
        or (item, description, original amount, units, unit price) for a unit-priced item."""
        check_input(dict(contract=contract, job=job, description=description, status=status),
                     CONTRACT_INPUT, required=("contract", "job"))
        check_choice("billing_method", billing_method, (USE_CONTRACTS,))
        rows, seen = [], set()
        for item, item_description, amount, *priced in items:
            item = (item or "").strip()
            if not item:
                raise SageInputError("items", "Each contract item needs an item code.")
            if item in seen:
                raise SageInputError("items", f"Contract item {item} is listed twice.")
            if len(item_description or "") > 30:
                raise SageInputError("items", f"Contract item {item}: {too_long_for('Description', 30)}")
            seen.add(item)
            try:
                original = money_input("amount", amount)
            except SageInputError as exc:
                raise SageInputError("items", f"Contract item {item}: Original {str(exc)[0].lower()}{str(exc)[1:]}") \
                    from None
            units, unit_cost = (quantity_input("units", priced[0]), quantity_input("unit_cost", priced[1])) \
                if len(priced) == 2 else (None, None)
            if units is not None and unit_cost is not None and off_by_more_than_a_cent(units, unit_cost, original):
                raise SageInputError("items", f"Contract item {item}: the original amount must be units times "
                                              "unit price.")
            rows.append(dict(Contract=contract, Item=item, Description=item_description or "",
                             Original_Amount=original, Approved_Changes=Decimal(0), Units=units, Unit_Cost=unit_cost))
        try:
            with self.engine.begin() as conn:
                job_row = conn.execute(select(job_t.c.Billing_Method).where(job_t.c.Job == job)).first()
                if job_row is None:
                    raise SageInputError("job", f"No job {job} in Sage 300 CRE.")
                if job_row.Billing_Method != USE_CONTRACTS:
                    raise SageInputError("job", f"Job {job} bills {job_row.Billing_Method}: its schedule of "
                                                "values is entered in Miscellaneous Worksheets, not on a contract.")
                if exists(conn, contract_t, Contract=contract):
                    raise SageInputError("contract", f"Contract {contract} already exists in Sage 300 CRE.")
                conn.execute(insert(contract_t).values(Contract=contract, Job=job, Description=description,
                                                       Status=status, Billing_Method=billing_method,
                                                       Work_Started=work_started, Work_Completed=work_completed))
                for row in rows:
                    conn.execute(insert(contract_item_t).values(**row))
        except IntegrityError as exc:
            raise SageInputError("contract", f"Contract {contract} already exists in Sage 300 CRE.") from exc

    def add_contract_item(self, contract: str, item: str, description: str = "", original_amount: Amount = 0,
                          approved_changes: Amount = 0) -> None:
        self._insert(contract_item_t, Contract=contract, Item=item, Description=description,
                     Original_Amount=Decimal(str(original_amount)), Approved_Changes=Decimal(str(approved_changes)))

    def update_vendor(self, vendor: str, **fields) -> None:
        """Change a vendor's columns (Name, Address_1, Address_2, City, State, ZIP, Telephone, Fax, Status)."""
        arguments = {"Name": "name", "Address_1": "address_1", "Address_2": "address_2", "City": "city",
                     "State": "state", "ZIP": "zip", "Telephone": "telephone", "Fax": "fax", "Status": "status"}
        values = renamed(fields, arguments)
        check_input(values, VENDOR_INPUT, required=("name",) if "name" in values else ())
        if "status" in values:
            check_choice("status", values["status"], VENDOR_STATUSES)
        self._update(vendor_t, "vendor", f"No vendor {vendor} in Sage 300 CRE.", {"Vendor": vendor},
                     {column: fields[column] for column in fields})

    def update_job(self, job: str, **fields) -> None:
        """Change a job's columns (Description, ..., Status, Billing_Method, Billing_Level: checked together)."""
        arguments = {"Description": "description", "Address_1": "address_1", "Address_2": "address_2",
                     "City": "city", "State": "state", "ZIP": "zip", "Status": "status",
                     "Billing_Method": "billing_method", "Billing_Level": "billing_level"}
        values = renamed(fields, arguments)
        check_input({k: v for k, v in values.items() if not k.startswith("billing_")}, JOB_INPUT)
        with self.engine.begin() as conn:
            row = conn.execute(select(job_t).where(job_t.c.Job == job)).mappings().first()
            if row is None:
                raise SageInputError("job", f"No job {job} in Sage 300 CRE.")
            if "billing_method" in values or "billing_level" in values:
                method = values.get("billing_method", row["Billing_Method"])
                # a job moved to Use Contracts has no billing level
                level = values.get("billing_level", "" if method == USE_CONTRACTS else row["Billing_Level"])
                check_billing(method, level)
                fields = dict(fields, Billing_Method=method, Billing_Level=level)
            conn.execute(update(job_t).where(job_t.c.Job == job).values(**fields))

    def _update(self, table, field: str, missing: str, key: dict, values: dict) -> None:
        with self.engine.begin() as conn:
            where = [table.c[k] == v for k, v in key.items()]
            if not exists(conn, table, **key):
                raise SageInputError(field, missing)
            if values:
                conn.execute(update(table).where(*where).values(**values))

    def add_standard_cost_code(self, code: str, description: str, status: str = "Active") -> None:
        """A company standard cost code (JCM_MASTER__STANDARD_COST_CODE)."""
        check_input(dict(code=code, description=description), STANDARD_COST_CODE_INPUT, required=("code",))
        check_choice("status", status, STANDARD_CODE_STATUSES)
        self._add(standard_cost_code_t, "code", f"Standard cost code {code}", Cost_Code=code,
                  Description=description, Status=status)

    def add_standard_category(self, code: str, description: str) -> None:
        """A company standard category (JCM_MASTER__STANDARD_CATEGORY)."""
        check_input(dict(code=code, description=description), STANDARD_CATEGORY_INPUT, required=("code",))
        self._add(standard_category_t, "code", f"Standard category {code}", Category=code,
                  Description=description)

    def set_schedule_value(self, job: str, level_code: str, description: str, amount: Amount) -> None:
        """Enter (or change) a Use Quickbill job's schedule value (Miscellaneous Worksheets)."""
        # level code: "" at Job level, a division code at Division level, a job cost code at Section level
        level_code = level_code or ""
        check_input(dict(job=job, level_code=level_code, description=description), SCHEDULE_VALUE_INPUT,
                     required=("job",))
        value = money_input("amount", amount)
        with self.engine.begin() as conn:
            row = conn.execute(select(job_t.c.Billing_Method, job_t.c.Billing_Level)
                               .where(job_t.c.Job == job)).first()
            if row is None:
                raise SageInputError("job", f"No job {job} in Sage 300 CRE.")
            if row.Billing_Method != USE_QUICKBILL:
                raise SageInputError("job", f"Job {job} bills {row.Billing_Method}: its schedule of values "
                                            "is on its contracts, not in Miscellaneous Worksheets.")
            if row.Billing_Level == "Job" and level_code:
                raise SageInputError("level_code", f"Job {job} bills at Job level: leave the level code blank.")
            if row.Billing_Level != "Job" and not level_code:
                raise SageInputError("level_code", f"Job {job} bills at {row.Billing_Level} level: give the "
                                                   f"{row.Billing_Level.lower()} code.")
            if row.Billing_Level == "Section" and not exists(conn, cost_code_t, Job=job, Extra="",
                                                                Cost_Code=level_code):
                raise SageInputError("level_code", f"No cost code {level_code} on job {job} in Sage 300 CRE.")
            values = dict(Description=description or "", Original_Contract_Amount=value)
            if not conn.execute(update(schedule_value_t).where(
                    schedule_value_t.c.Job == job, schedule_value_t.c.Level_Code == level_code)
                    .values(**values)).rowcount:
                conn.execute(insert(schedule_value_t).values(Job=job, Level_Code=level_code, **values))

    def add_cost(self, job: str, cost_code: str, category: str, transaction_type: str, amount: Amount, *,
                 extra: str = "", date: date | None = None, description: str = "", vendor: str = "",
                 invoice: str = "", units: Amount | None = None, unit_cost: Amount | None = None,
                 amount_paid: Amount = 0, commitment: str = "",
                 posted: bool = True) -> int:
        """A cost transaction (AP/PR/EQ/IV/JC cost) on a job's category; returns its Transaction_ID."""
        # posted (current.jct) unless posted=False; vendor, invoice and commitment are AP cost's only
        extra, vendor, invoice, commitment = extra or "", vendor or "", invoice or "", commitment or ""
        check_choice("transaction_type", transaction_type, COST_TYPES)
        check_input(dict(job=job, extra=extra, cost_code=cost_code, category=category, description=description,
                          vendor=vendor, invoice=invoice, commitment=commitment), COST_INPUT,
                     required=("job", "cost_code", "category"))
        if transaction_type != AP_COST:
            for field, value in (("vendor", vendor), ("invoice", invoice), ("commitment", commitment)):
                if value:
                    raise SageInputError(field, f"Only an AP cost has a {LABELS[field].lower()} "
                                                f"({transaction_type} has none).")
        row = dict(Job=job, Extra=extra, Cost_Code=cost_code, Category=category,
                   Transaction_Type=transaction_type, Date=date or naive_utc(self.clock()).date(),
                   Description=description or "", Amount=money_input("amount", amount),
                   Units=quantity_input("units", units), Unit_Cost=quantity_input("unit_cost", unit_cost),
                   Vendor=vendor, Invoice=invoice, Amount_Paid=money_input("amount_paid", amount_paid or 0),
                   Commitment=commitment, Posted=posted, Batch_ID="", Created_At=naive_utc(self.clock()))
        with self.engine.begin() as conn:
            if not exists(conn, job_t, Job=job):
                raise SageInputError("job", f"No job {job} in Sage 300 CRE.")
            if extra and not exists(conn, extra_t, Job=job, Extra=extra):
                raise SageInputError("extra", f"No extra {extra} on job {job} in Sage 300 CRE.")
            if not exists(conn, category_t, Job=job, Extra=extra, Cost_Code=cost_code, Category=category):
                raise SageInputError("category", f"No category {category} on cost code "
                                                 f"{coding_name(job, extra, cost_code)} in Sage 300 CRE.")
            if vendor and not exists(conn, vendor_t, Vendor=vendor):
                raise SageInputError("vendor", f"No vendor {vendor} in Sage 300 CRE.")
            if commitment:
                on = conn.scalar(select(commitment_t.c.Job).where(commitment_t.c.Commitment == commitment))
                if on is None:
                    raise SageInputError("commitment", f"No commitment {commitment} in Sage 300 CRE.")
                if on != job:
                    raise SageInputError("commitment", f"Commitment {commitment} is on job {on}, not {job}.")
            inserted = conn.execute(insert(transaction_t).values(**row)).inserted_primary_key
            return int(inserted[0])  # type: ignore[index]  # a single-row insert always has its key

    def add_customer(self, customer: str, name: str = "", status: str = "Active") -> None:
        self._insert(customer_t, Customer=customer, Name=name, Status=status)

    def post_transactions(self, job: str, batch_id: str | None = None) -> int:
        """Post the job's unposted transactions (new.jct -> current.jct), or only one batch's;
        returns how many were posted."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            where = [transaction_t.c.Job == job, transaction_t.c.Posted == False]  # noqa: E712
            if batch_id is not None:
                where.append(transaction_t.c.Batch_ID == batch_id)
            return conn.execute(update(transaction_t).where(*where).values(Posted=True)).rowcount

    # ---- deleting: what a Sage user does before the portal unlinks (the Sage user's page) ----

    def delete_vendor(self, vendor: str) -> bool:
        """Delete a vendor with no commitment or AP invoice left (ValueError otherwise)."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            if conn.execute(select(commitment_t.c.Commitment).where(commitment_t.c.Vendor == vendor)).first() or \
                    conn.execute(select(invoice_t.c.Invoice).where(invoice_t.c.Vendor == vendor)).first():
                raise ValueError(f"Vendor {vendor} still has commitments or AP invoices: delete them first.")
            return conn.execute(vendor_t.delete().where(vendor_t.c.Vendor == vendor)).rowcount > 0

    def delete_commitment(self, commitment: str) -> bool:
        """Delete a commitment with its items, change orders, CO items and Job Cost transactions."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            for table in (commitment_co_item_t, commitment_co_t, commitment_item_t, transaction_t):
                conn.execute(table.delete().where(table.c.Commitment == commitment))
            return conn.execute(commitment_t.delete().where(commitment_t.c.Commitment == commitment)).rowcount > 0

    def delete_cco(self, commitment: str, cco: str, take_off_amount: bool = True) -> bool:
        """Delete a commitment change order: its items, its transactions, the $0 items it added
        to the commitment (when nothing else uses them), and its change to the approved amount
        (unless take_off_amount is false: a void change order's is off already)."""
        co_items = (commitment_co_item_t.c.Commitment == commitment, commitment_co_item_t.c.CCO == cco)
        with self.engine.begin() as conn:
            self._serialise(conn)
            items = conn.execute(select(commitment_co_item_t.c.Item, commitment_co_item_t.c.Amount)
                                 .where(*co_items)).all()
            change = sum((Decimal(r.Amount) for r in items), Decimal(0))
            elsewhere = {r.Item for r in conn.execute(select(commitment_co_item_t.c.Item).where(
                commitment_co_item_t.c.Commitment == commitment, commitment_co_item_t.c.CCO != cco))}
            elsewhere |= {r.Commitment_Item for r in conn.execute(select(distribution_t.c.Commitment_Item).where(
                distribution_t.c.Commitment == commitment))}
            added = [r.Item for r in conn.execute(select(commitment_item_t.c.Item, commitment_item_t.c.Amount).where(
                commitment_item_t.c.Commitment == commitment,
                commitment_item_t.c.Item.in_([i.Item for i in items]))) if Decimal(r.Amount) == 0
                and r.Item not in elsewhere]
            conn.execute(transaction_t.delete().where(transaction_t.c.Commitment == commitment,
                                                      transaction_t.c.Commitment_CO == cco))
            conn.execute(commitment_co_item_t.delete().where(*co_items))
            deleted = conn.execute(commitment_co_t.delete().where(
                commitment_co_t.c.Commitment == commitment, commitment_co_t.c.CCO == cco)).rowcount > 0
            if added:
                conn.execute(transaction_t.delete().where(transaction_t.c.Commitment == commitment,
                                                          transaction_t.c.Commitment_Item.in_(added)))
                conn.execute(commitment_item_t.delete().where(commitment_item_t.c.Commitment == commitment,
                                                              commitment_item_t.c.Item.in_(added)))
            if deleted and change and take_off_amount:
                conn.execute(update(commitment_t).where(commitment_t.c.Commitment == commitment)
                             .values(Amount=commitment_t.c.Amount - change))
            return deleted

    def delete_invoice(self, vendor: str, invoice: str) -> bool:
        """Delete an AP invoice with its distributions (and payments: a test's cleanup)."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            conn.execute(payment_t.delete().where(payment_t.c.Vendor == vendor, payment_t.c.Invoice == invoice))
            conn.execute(distribution_t.delete().where(distribution_t.c.Vendor == vendor,
                                                       distribution_t.c.Invoice == invoice))
            return conn.execute(invoice_t.delete().where(invoice_t.c.Vendor == vendor,
                                                         invoice_t.c.Invoice == invoice)).rowcount > 0

    def delete_ar_invoice(self, invoice: str) -> bool:
        """Delete an AR (owner) invoice with its distributions."""
        with self.engine.begin() as conn:
            self._serialise(conn)
            conn.execute(ar_distribution_t.delete().where(ar_distribution_t.c.Invoice == invoice))
            return conn.execute(ar_invoice_t.delete().where(ar_invoice_t.c.Invoice == invoice)).rowcount > 0

    def delete_change_transactions(self, job: str, ref_1: str) -> int:
        """Delete a PCCO's Approved est chng and Approved Schedule Value Change transactions, taking
        the schedule value changes back off their contract items; returns how many were deleted."""
        where = pcco_change_rows(job, ref_1)
        with self.engine.begin() as conn:
            self._serialise(conn)
            changes = select(transaction_t.c.Contract, transaction_t.c.Contract_Item, transaction_t.c.Amount)
            for r in conn.execute(changes
                                  .where(*where, transaction_t.c.Transaction_Type == SCHEDULE_VALUE_CHANGE)).all():
                conn.execute(update(contract_item_t).where(
                    contract_item_t.c.Contract == r.Contract, contract_item_t.c.Item == r.Contract_Item,
                ).values(Approved_Changes=contract_item_t.c.Approved_Changes - Decimal(r.Amount)))
            return conn.execute(transaction_t.delete().where(*where)).rowcount
