"""The Sage user's forms: one per thing a Sage 300 CRE user enters, with Sage's field limits.

Each form names the simulator method it feeds (`method`) and builds its arguments; field names
are the method's argument names, so a SageInputError's field lands on the right input."""
from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import DateField, FieldList, Form, FormField, SelectField, StringField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in WTForms 3.3; types-WTForms 3.2 lacks it
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.domain.values import sage_character_problem
from portal.exporters.sage300.simulator import (
    BILLING_LEVELS,
    BILLING_METHODS,
    CATEGORY_INPUT,
    CHECK_MAX,
    CONTRACT_INPUT,
    COST_INPUT,
    COST_TYPES,
    DATE_USAGES,
    EXTRA_INPUT,
    INSURANCE_TYPES,
    JOB_INPUT,
    JOB_STATUSES,
    PERIOD_STATUSES,
    RECORD_ACTIONS,
    SCHEDULE_VALUE_INPUT,
    STANDARD_CATEGORY_INPUT,
    STANDARD_CODE_STATUSES,
    STANDARD_COST_CODE_INPUT,
    TAX_GROUP_SYNC,
    VENDOR_INPUT,
    VENDOR_STATUSES,
    too_long_for,
)

AMOUNT_MAX = 20  # an amount as typed: "-1,234,567,890.1234" and some spaces
ITEM_MAX = 20    # a contract's id and its item codes, as the portal keeps them (PrimeContract)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def sage_characters(form, field) -> None:
    """Only characters Sage can store (Windows-1252, no invisible text-direction controls)."""
    problem = sage_character_problem(field.data, str(field.label.text)) if isinstance(field.data, str) else None
    if problem:
        raise ValidationError(problem)


def text(label: str, limit: int | None = None, required: bool = False, **kw) -> StringField:
    """A text input: required or optional, at most `limit` characters (Sage's length), only
    characters Sage can store."""
    validators: list = [DataRequired(f"{label} is required.")] if required else [Optional()]
    validators.append(sage_characters)
    if limit:
        # WTForms formats the message with %: a label such as "Tolerance %" must not read as a placeholder
        validators.append(Length(max=limit, message=too_long_for(label, limit).replace("%", "%%")))
        # as templates/_field.html: the browser lets a longer value through, the server names the limit
        kw["render_kw"] = {"maxlength": limit * 4, "data-max": limit}
    return StringField(label, validators=validators, filters=[_strip], **kw)


def iso_date(form, field) -> None:
    """A date typed as YYYY-MM-DD (blank: left to the field's own validators)."""
    if field.data:
        try:
            date.fromisoformat(field.data)
        except ValueError:
            raise ValidationError(f"{field.label.text} must be a date like 2026-10-31.") from None


def choice(label: str, choices, default=None) -> SelectField:
    return SelectField(label, choices=[SelectChoice(c, c or "—") for c in choices], default=default,
                       validate_choice=True)


class SageForm(FlaskForm):
    """A form feeding one simulator method."""
    method = ""
    button = "Add"
    refused = "Nothing was added to Sage 300 CRE"  # the heading over a refused form's messages

    def arguments(self) -> dict:
        """The method's keyword arguments (every field by default)."""
        return {name: field.data or "" for name, field in self._fields.items() if name != "csrf_token"}

    def done(self, said=None) -> str:
        """The notice after Sage took it (`said`: what the simulator method returned)."""
        return "Added to Sage 300 CRE."


class VendorForm(SageForm):
    method = "add_vendor"
    L = dict(VENDOR_INPUT)
    vendor = text("Vendor", L["vendor"], required=True)
    name = text("Name", L["name"], required=True)
    address_1 = text("Address 1", L["address_1"])
    city = text("City", L["city"])
    state = text("State", L["state"])
    zip = text("ZIP", L["zip"])
    telephone = text("Telephone", L["telephone"])
    fax = text("Fax", L["fax"])
    status = choice("Status", VENDOR_STATUSES, "Active")

    def done(self, said=None) -> str:
        return f"Vendor {self.vendor.data} added to Sage 300 CRE."


class JobForm(SageForm):
    method = "add_job"
    L = dict(JOB_INPUT)
    job = text("Job", L["job"], required=True)
    description = text("Description", L["description"], required=True)
    address_1 = text("Address 1", L["address_1"])
    city = text("City", L["city"])
    state = text("State", L["state"])
    zip = text("ZIP", L["zip"])
    status = choice("Status", JOB_STATUSES, "Open")
    billing_method = choice("Billing method", BILLING_METHODS, BILLING_METHODS[0])
    billing_level = choice("Billing level", ("",) + BILLING_LEVELS, "")

    def done(self, said=None) -> str:
        return f"Job {self.job.data} added to Sage 300 CRE."


class ExtraForm(SageForm):
    method = "add_extra"
    L = dict(EXTRA_INPUT)
    job = text("Job", L["job"], required=True)
    extra = text("Extra", L["extra"], required=True)
    description = text("Description", L["description"])

    def done(self, said=None) -> str:
        return f"Extra {self.extra.data} added to job {self.job.data}."


class CodingForm(SageForm):
    method = "add_coding"
    L = dict(CATEGORY_INPUT)
    job = text("Job", L["job"], required=True)
    extra = text("Extra", L["extra"])
    cost_code = text("Cost code", L["cost_code"], required=True)
    cost_code_description = text("Cost code description", 30)
    category = text("Category", L["category"], required=True)
    category_description = text("Category description", 30)

    def done(self, said=None) -> str:
        where = f"{self.job.data}/{self.extra.data}" if self.extra.data else self.job.data
        return f"Category {self.category.data} of cost code {self.cost_code.data} added to {where}."


class StandardCostCodeForm(SageForm):
    method = "add_standard_cost_code"
    L = dict(STANDARD_COST_CODE_INPUT)
    code = text("Code", L["code"], required=True)
    description = text("Description", L["description"], required=True)
    status = choice("Status", STANDARD_CODE_STATUSES, "Active")

    def done(self, said=None) -> str:
        return f"Standard cost code {self.code.data} added to Sage 300 CRE."


class StandardCategoryForm(SageForm):
    method = "add_standard_category"
    L = dict(STANDARD_CATEGORY_INPUT)
    code = text("Code", L["code"], required=True)
    description = text("Description", L["description"], required=True)

    def done(self, said=None) -> str:
        return f"Standard category {self.code.data} added to Sage 300 CRE."


class ContractItemForm(Form):
    # checked by ContractForm.validate_items, whose messages the page shows (a FieldList's own are dicts)
    item = StringField("Item", filters=[_strip])
    description = StringField("Description", filters=[_strip])
    amount = StringField("Original amount", filters=[_strip])


class ContractForm(SageForm):
    method = "add_contract"
    L = dict(CONTRACT_INPUT)
    contract = text("Contract", ITEM_MAX, required=True)
    job = text("Job", L["job"], required=True)
    description = text("Description", L["description"])
    work_started = DateField("Work started", validators=[Optional()])
    work_completed = DateField("Work completed", validators=[Optional()])
    items = FieldList(FormField(ContractItemForm), label="Items", min_entries=4, max_entries=20)

    def validate_items(self, field):
        rows = [entry.form for entry in field.entries]
        filled = [r for r in rows if r.item.data or r.description.data or r.amount.data]
        if not filled:
            raise ValidationError("Items: give at least one contract item (item, description, amount).")
        for n, row in enumerate(filled, start=1):
            if not row.item.data:
                raise ValidationError(f"Items: line {n} needs an item code.")
            if not row.amount.data:
                raise ValidationError(f"Items: item {row.item.data} needs an original amount.")
            for sub, label, limit in ((row.item, "Item", ITEM_MAX), (row.description, "Description", 30),
                                      (row.amount, "Original amount", AMOUNT_MAX)):
                value = sub.data or ""
                problem = (too_long_for(label, limit) if len(value) > limit
                           else sage_character_problem(value, label))
                if problem:
                    sub.errors = [*sub.errors, problem]  # shown at the input too
                    which = f"item {row.item.data}" if label != "Item" else f"line {n}"
                    raise ValidationError(f"Items: {which}: {problem}")

    def arguments(self) -> dict:
        items = [(e.form.item.data, e.form.description.data or "", e.form.amount.data)
                 for e in self.items.entries if e.form.item.data]
        return dict(contract=self.contract.data, job=self.job.data, description=self.description.data or "",
                    items=items, work_started=self.work_started.data, work_completed=self.work_completed.data)

    def validate_work_completed(self, field):
        if field.data and self.work_started.data and field.data < self.work_started.data:
            raise ValidationError("Work completed cannot be before work started.")

    def done(self, said=None) -> str:
        return f"Contract {self.contract.data} added to job {self.job.data}."


class ScheduleValueForm(SageForm):
    method = "set_schedule_value"
    button = "Save"
    L = dict(SCHEDULE_VALUE_INPUT)
    job = text("Job", L["job"], required=True)
    level_code = text("Level code", L["level_code"],
                      description="blank at Job level; the division or cost code otherwise")
    description = text("Description", L["description"])
    amount = text("Original contract amount", AMOUNT_MAX, required=True)

    def done(self, said=None) -> str:
        level = f" {self.level_code.data}" if self.level_code.data else ""
        return f"Schedule value{level} of job {self.job.data} saved."


class CostForm(SageForm):
    method = "add_cost"
    button = "Post"
    L = dict(COST_INPUT)
    transaction_type = choice("Transaction type", COST_TYPES, COST_TYPES[0])
    job = text("Job", L["job"], required=True)
    extra = text("Extra", L["extra"])
    cost_code = text("Cost code", L["cost_code"], required=True)
    category = text("Category", L["category"], required=True)
    date = text("Date", 10, description="YYYY-MM-DD; today when blank")
    description = text("Description", L["description"])
    amount = text("Amount", AMOUNT_MAX, required=True)
    units = text("Units", AMOUNT_MAX)
    unit_cost = text("Unit cost", AMOUNT_MAX)
    vendor = text("Vendor", L["vendor"], description="AP cost only")
    invoice = text("Invoice", L["invoice"], description="AP cost only")
    commitment = text("Commitment", L["commitment"], description="AP cost only")
    amount_paid = text("Amount paid", AMOUNT_MAX)

    validate_date = iso_date

    def arguments(self) -> dict:
        values = super().arguments()
        values["date"] = date.fromisoformat(values["date"]) if values["date"] else None
        values["units"] = values["units"] or None
        values["unit_cost"] = values["unit_cost"] or None
        values["amount_paid"] = values["amount_paid"] or 0
        return values

    def done(self, said=None) -> str:
        return f"{self.transaction_type.data} of {self.amount.data} posted to job {self.job.data}."


class PaymentForm(SageForm):
    """An AP payment: a check against one AP invoice, in part or in full (Accounts Payable > Payments)."""
    method = "pay_ap_invoice"
    button = "Pay"
    refused = "No payment was entered in Sage 300 CRE"
    vendor = text("Vendor", dict(VENDOR_INPUT)["vendor"], required=True)
    invoice = text("Invoice", dict(COST_INPUT)["invoice"], required=True)
    check_number = text("Check number", CHECK_MAX, required=True)
    check_date = text("Check date", 10, required=True, description="YYYY-MM-DD")
    amount = text("Amount", AMOUNT_MAX, required=True, description="at most the invoice's open balance")

    validate_check_date = iso_date

    def arguments(self) -> dict:
        values = super().arguments()
        values["check_date"] = date.fromisoformat(values["check_date"])
        return values

    def done(self, said=None) -> str:
        return str(said)


# ---- what a Sage user changes to fix a refused export, or deletes before an unlink ----------------

class FixForm(SageForm):
    """A change to what Sage holds; the notice is the simulator's confirmation."""
    button = "Apply"
    refused = "Nothing was changed in Sage 300 CRE"

    def done(self, said=None) -> str:
        return str(said)


class JobStatusForm(FixForm):
    method = "change_job_status"
    job = text("Job", dict(JOB_INPUT)["job"], required=True)
    status = choice("Status", JOB_STATUSES, "Open")


class PeriodForm(FixForm):
    method = "change_gl_period"
    period = text("Period", 7, required=True, description="YYYY-MM, e.g. 2026-10")
    status = choice("Status", PERIOD_STATUSES, "Open")


class VendorStatusForm(FixForm):
    method = "change_vendor_status"
    vendor = text("Vendor", dict(VENDOR_INPUT)["vendor"], required=True)
    status = choice("Status", VENDOR_STATUSES, "Active")


class LimitsForm(FixForm):
    method = "change_limits"
    button = "Save"
    tolerance_pct = text("Tolerance %", 10, description="blank: unchanged")
    hourly_limit = text("Hourly request limit", 10, description="0: no limit; blank: unchanged")


class ApInvoiceForm(FixForm):
    method = "void_or_delete_ap_invoice"
    vendor = text("Vendor", dict(VENDOR_INPUT)["vendor"], required=True)
    invoice = text("Invoice", dict(COST_INPUT)["invoice"], required=True)
    action = choice("Action", RECORD_ACTIONS, RECORD_ACTIONS[0])


class ArInvoiceForm(FixForm):
    method = "void_or_delete_ar_invoice"
    invoice = text("Invoice", dict(COST_INPUT)["invoice"], required=True)
    action = choice("Action", RECORD_ACTIONS, RECORD_ACTIONS[0])


class CommitmentRecordForm(FixForm):
    method = "void_or_delete_commitment"
    commitment = text("Commitment", dict(COST_INPUT)["commitment"], required=True)
    action = choice("Action", RECORD_ACTIONS, RECORD_ACTIONS[0])


class ChangeOrderForm(FixForm):
    method = "void_or_delete_change_order"
    commitment = text("Commitment", dict(COST_INPUT)["commitment"], required=True)
    cco = text("Change order", 10, required=True)
    action = choice("Action", RECORD_ACTIONS, RECORD_ACTIONS[0])


class ApSettingsForm(FixForm):
    method = "change_ap_settings"
    button = "Save"
    date_received_usage = choice("Date Received Usage", ("",) + DATE_USAGES, "")
    payment_date_usage = choice("Payment Date Usage", ("",) + DATE_USAGES, "")


class TaxGroupSyncForm(FixForm):
    method = "change_tax_group_sync"
    button = "Save"
    status = choice("Tax Group Sync", TAX_GROUP_SYNC, TAX_GROUP_SYNC[0])


class VendorInsuranceForm(FixForm):
    method = "set_vendor_insurance"
    button = "Save"
    vendor = text("Vendor", dict(VENDOR_INPUT)["vendor"], required=True)
    insurance_type = choice("Insurance type", INSURANCE_TYPES, INSURANCE_TYPES[0])
    policy_number = text("Policy number", 20)
    insurance_company = text("Insurance company", 30)
    limit_amount = text("Limit", 15)
    effective_date = DateField("Effective date", validators=[Optional()])
    expiration_date = DateField("Expiration date", validators=[DataRequired("Expiration date is required.")])


class RemoveInsuranceForm(FixForm):
    method = "delete_vendor_insurance"
    button = "Remove"
    vendor = text("Vendor", dict(VENDOR_INPUT)["vendor"], required=True)
    insurance_type = choice("Insurance type", INSURANCE_TYPES, INSURANCE_TYPES[0])


# section key -> (title, form class), in the page's order: what a Sage user enters, then fixes
ENTRY_SECTIONS = {
    "vendor": ("Vendor", VendorForm),
    "job": ("Job", JobForm),
    "extra": ("Extra", ExtraForm),
    "coding": ("Cost code and category", CodingForm),
    "standard_cost_code": ("Standard cost code", StandardCostCodeForm),
    "standard_category": ("Standard category", StandardCategoryForm),
    "contract": ("Contract (Use Contracts)", ContractForm),
    "schedule_value": ("Schedule value (Use Quickbill)", ScheduleValueForm),
    "cost": ("Posted cost transaction", CostForm),
    "payment": ("AP payment (check against an AP invoice)", PaymentForm),
}
FIX_SECTIONS = {
    "job_status": ("Open or close a job", JobStatusForm),
    "gl_period": ("Open or close a GL period", PeriodForm),
    "vendor_status": ("Activate or deactivate a vendor", VendorStatusForm),
    "limits": ("AP tolerance and hourly request limit", LimitsForm),
    "ap_invoice": ("Void or delete an AP invoice", ApInvoiceForm),
    "ar_invoice": ("Void or delete an AR invoice", ArInvoiceForm),
    "commitment": ("Void or delete a commitment", CommitmentRecordForm),
    "change_order": ("Void or delete a commitment change order", ChangeOrderForm),
    "ap_settings": ("AP Settings - Invoice Settings", ApSettingsForm),
    "tax_group_sync": ("Tax groups: hh2 Tax Group Sync", TaxGroupSyncForm),
    "vendor_insurance": ("AP Vendor Insurance: add or change a policy", VendorInsuranceForm),
    "remove_insurance": ("AP Vendor Insurance: remove a policy", RemoveInsuranceForm),
}
SECTIONS = {**ENTRY_SECTIONS, **FIX_SECTIONS}
