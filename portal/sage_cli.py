"""`flask sage ...`: enter data in the Sage 300 CRE simulator as a Sage user would, and list it,
so the portal's imports have real data to pull (the simulator connector only)."""
from __future__ import annotations

from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from portal.exporters.sage300.simulator import (
    BILLING_LEVELS,
    BILLING_METHODS,
    COST_TYPES,
    DATE_USAGES,
    DELETE,
    INSURANCE_TYPES,
    JOB_STATUSES,
    PERIOD_STATUSES,
    STANDARD_CODE_STATUSES,
    TAX_GROUP_SYNC,
    USE_CONTRACTS,
    VENDOR_STATUSES,
    VOID,
    SageInputError,
)

sage_cli = AppGroup("sage", help="Enter and list data in the Sage 300 CRE simulator.")
LISTINGS = ("vendors", "jobs", "contracts", "costs", "insurance", "payments")
# what the portal exported (the simulator's exported() listings), and the settings
EXPORTED = {"ap-invoices": "ap_invoices", "ar-invoices": "ar_invoices", "commitments": "commitments",
            "commitment-items": "commitment_items", "change-orders": "change_orders"}


def _sim():
    config = current_app.config
    if (config.get("SAGE_CONNECTOR") or "simulator").lower() != "simulator":
        raise click.ClickException(f"SAGE_CONNECTOR is {config.get('SAGE_CONNECTOR')!r}: these commands "
                                   "need the Sage 300 CRE simulator.")
    from portal.exporters.sage300.connectors import make_connector
    return make_connector(config).sim


def _enter(method: str, done: str | None, **arguments) -> None:
    """Call the simulator method; echo `done`, or what the method said when done is None."""
    try:
        said = getattr(_sim(), method)(**arguments)
    except SageInputError as exc:
        raise click.ClickException(f"{exc.field}: {exc}") from exc
    click.echo(said if done is None else done)


@sage_cli.command("add-vendor")
@click.argument("vendor")
@click.argument("name")
@click.option("--address-1", default="")
@click.option("--city", default="")
@click.option("--state", default="")
@click.option("--zip", "zip_code", default="")
@click.option("--telephone", default="")
@click.option("--fax", default="")
@click.option("--status", type=click.Choice(VENDOR_STATUSES), default="Active", show_default=True)
def add_vendor(vendor, name, address_1, city, state, zip_code, telephone, fax, status):
    """Add an AP vendor."""
    _enter("add_vendor", f"vendor {vendor} added", vendor=vendor, name=name, address_1=address_1, city=city,
           state=state, zip=zip_code, telephone=telephone, fax=fax, status=status)


@sage_cli.command("add-job")
@click.argument("job")
@click.argument("description")
@click.option("--address-1", default="")
@click.option("--city", default="")
@click.option("--state", default="")
@click.option("--zip", "zip_code", default="")
@click.option("--status", type=click.Choice(JOB_STATUSES), default="Open", show_default=True)
@click.option("--billing-method", type=click.Choice(BILLING_METHODS), default=USE_CONTRACTS, show_default=True)
@click.option("--billing-level", type=click.Choice(("",) + BILLING_LEVELS), default="",
              help="Use Quickbill only: Job, Division or Section.")
def add_job(job, description, address_1, city, state, zip_code, status, billing_method, billing_level):
    """Add a JC job with its billing method (and level)."""
    _enter("add_job", f"job {job} added", job=job, description=description, address_1=address_1, city=city,
           state=state, zip=zip_code, status=status, billing_method=billing_method, billing_level=billing_level)


@sage_cli.command("add-extra")
@click.argument("job")
@click.argument("extra")
@click.argument("description", default="")
def add_extra(job, extra, description):
    """Add an extra (sub job) to a job."""
    _enter("add_extra", f"extra {extra} added to job {job}", job=job, extra=extra, description=description)


@sage_cli.command("add-cost-code")
@click.argument("job")
@click.argument("cost_code")
@click.argument("category")
@click.option("--description", default="", help="The cost code's description (when it is new).")
@click.option("--category-description", default="")
@click.option("--extra", default="", help="On this extra of the job.")
def add_cost_code(job, cost_code, category, description, category_description, extra):
    """Add a category to a job's (or extra's) cost code, adding the cost code when it is new."""
    _enter("add_coding", f"category {category} of cost code {cost_code} added to {job}"
           + (f"/{extra}" if extra else ""), job=job, cost_code=cost_code, category=category,
           cost_code_description=description, category_description=category_description, extra=extra)


@sage_cli.command("add-standard-cost-code")
@click.argument("code")
@click.argument("description")
@click.option("--status", type=click.Choice(STANDARD_CODE_STATUSES), default="Active", show_default=True)
def add_standard_cost_code(code, description, status):
    """Add a company standard cost code."""
    _enter("add_standard_cost_code", f"standard cost code {code} added", code=code, description=description,
           status=status)


@sage_cli.command("add-standard-category")
@click.argument("code")
@click.argument("description")
def add_standard_category(code, description):
    """Add a company standard category."""
    _enter("add_standard_category", f"standard category {code} added", code=code, description=description)


def _item(value: str) -> tuple[str, str, str]:
    code, sep, rest = value.partition(":")
    description, sep2, amount = rest.rpartition(":")
    if not (sep and sep2 and code.strip() and amount.strip()):
        raise click.ClickException(f"--item {value!r} is not CODE:DESCRIPTION:AMOUNT.")
    return code.strip(), description.strip(), amount.strip()


@sage_cli.command("add-contract")
@click.argument("contract")
@click.argument("job")
@click.option("--description", default="")
@click.option("--item", "items", multiple=True, required=True, metavar="CODE:DESCRIPTION:AMOUNT",
              help="A contract item; repeat for more.")
@click.option("--work-started", type=click.DateTime(["%Y-%m-%d"]), default=None, help="YYYY-MM-DD")
@click.option("--work-completed", type=click.DateTime(["%Y-%m-%d"]), default=None, help="YYYY-MM-DD")
def add_contract(contract, job, description, items, work_started, work_completed):
    """Add a prime contract with its items to a Use Contracts job."""
    parsed = [_item(value) for value in items]
    _enter("add_contract", f"contract {contract} added to job {job} with {len(parsed)} item(s)",
           contract=contract, job=job, description=description, items=parsed,
           work_started=work_started.date() if work_started else None,
           work_completed=work_completed.date() if work_completed else None)


@sage_cli.command("set-schedule-value")
@click.argument("job")
@click.argument("amount")
@click.option("--level-code", default="", help="Blank at Job level; the division or cost code otherwise.")
@click.option("--description", default="")
def set_schedule_value(job, amount, level_code, description):
    """Enter a Use Quickbill job's schedule value (Miscellaneous Worksheets)."""
    _enter("set_schedule_value", f"schedule value {level_code or '(job)'} of job {job} saved", job=job,
           level_code=level_code, description=description, amount=amount)


@sage_cli.command("add-cost")
@click.argument("job")
@click.argument("cost_code")
@click.argument("category")
@click.argument("transaction_type", type=click.Choice(COST_TYPES))
@click.argument("amount")
@click.option("--extra", default="")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="YYYY-MM-DD; today.")
@click.option("--description", default="")
@click.option("--vendor", default="", help="AP cost only.")
@click.option("--invoice", default="", help="AP cost only.")
@click.option("--commitment", default="", help="AP cost only.")
@click.option("--units", default=None)
@click.option("--unit-cost", default=None)
@click.option("--amount-paid", default="0", show_default=True)
@click.option("--unposted", is_flag=True, help="Leave it in new.jct (not counted in Job Costs).")
def add_cost(job, cost_code, category, transaction_type, amount, extra, on, description, vendor, invoice,
             commitment, units, unit_cost, amount_paid, unposted):
    """Post a cost transaction (AP, PR, EQ, IV or JC cost) on a job's category."""
    when: date | None = on.date() if on else None
    _enter("add_cost", f"{transaction_type} of {amount} {'entered' if unposted else 'posted'} on job {job}",
           job=job, cost_code=cost_code, category=category, transaction_type=transaction_type, amount=amount,
           extra=extra, date=when, description=description, vendor=vendor, invoice=invoice,
           commitment=commitment, units=units, unit_cost=unit_cost, amount_paid=amount_paid,
           posted=not unposted)


@sage_cli.command("pay-invoice")
@click.argument("vendor")
@click.argument("invoice")
@click.argument("check_number")
@click.argument("amount")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The check date, YYYY-MM-DD; today.")
def pay_invoice(vendor, invoice, check_number, amount, on):
    """Pay an AP invoice by check, in part or in full (never over its open balance)."""
    _enter("pay_ap_invoice", None, vendor=vendor, invoice=invoice, check_number=check_number,
           check_date=on.date() if on else date.today(), amount=amount)


# ---- fixing in Sage what an export ran into, and voiding or deleting before an unlink ----------

def _status_command(name: str, method: str, key: str, statuses: tuple[str, ...], doc: str) -> None:
    """`NAME KEY STATUS`: the simulator's change_*_status (or change_gl_period) method."""
    def command(**arguments):
        _enter(method, None, **arguments)
    command.__doc__ = doc
    command = click.argument("status", type=click.Choice(statuses))(command)
    sage_cli.command(name)(click.argument(key)(command))


_status_command("job-status", "change_job_status", "job", JOB_STATUSES, "Open or close a job.")
_status_command("gl-period", "change_gl_period", "period", PERIOD_STATUSES,
                "Open or close a GL period (PERIOD: 2026-10 or 10/2026).")
_status_command("vendor-status", "change_vendor_status", "vendor", VENDOR_STATUSES,
                "Activate or deactivate a vendor.")


@sage_cli.command("set-limits")
@click.option("--tolerance", "tolerance_pct", default="", help="AP commitment tolerance, a percentage.")
@click.option("--hourly-limit", default="", help="Requests an hour the connection takes (0: no limit).")
def set_limits(tolerance_pct, hourly_limit):
    """Set the AP tolerance and/or the hourly request limit."""
    _enter("change_limits", None, tolerance_pct=tolerance_pct, hourly_limit=hourly_limit)


def _record_commands(name: str, method: str, keys: tuple[str, ...], what: str) -> None:
    """`void-NAME KEYS...` and `delete-NAME KEYS...`: the simulator's void_or_delete_* method."""
    for action in (VOID, DELETE):
        def command(action=action, **keyed):
            _enter(method, None, action=action, **keyed)
        command.__doc__ = f"{action} {what} (Sage refuses what it would refuse)."
        for key in reversed(keys):
            command = click.argument(key)(command)
        sage_cli.command(f"{action.lower()}-{name}")(command)


@sage_cli.command("ap-settings")
@click.option("--date-received-usage", type=click.Choice(DATE_USAGES), default=None)
@click.option("--payment-date-usage", type=click.Choice(DATE_USAGES), default=None)
def ap_settings(date_received_usage, payment_date_usage):
    """AP Settings - Invoice Settings: set Date Received Usage and/or Payment Date Usage."""
    _enter("change_ap_settings", None, date_received_usage=date_received_usage or "",
           payment_date_usage=payment_date_usage or "")


@sage_cli.command("tax-group-sync")
@click.argument("status", type=click.Choice(TAX_GROUP_SYNC))
def tax_group_sync(status):
    """Turn hh2's Tax Group Sync on (tax groups imported: invoice export unavailable) or off."""
    _enter("change_tax_group_sync", None, status=status)


@sage_cli.command("set-insurance")
@click.argument("vendor")
@click.argument("insurance_type", type=click.Choice(INSURANCE_TYPES))
@click.option("--expires", "expiration_date", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--effective", "effective_date", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--policy", "policy_number", default="")
@click.option("--company", "insurance_company", default="")
@click.option("--limit", "limit_amount", default="")
def set_insurance(vendor, insurance_type, expiration_date, effective_date, policy_number, insurance_company,
                  limit_amount):
    """Add or change one of a vendor's insurance policies (AP Vendor Insurance)."""
    _enter("set_vendor_insurance", None, vendor=vendor, insurance_type=insurance_type,
           policy_number=policy_number, insurance_company=insurance_company, limit_amount=limit_amount,
           effective_date=effective_date.date() if effective_date else None,
           expiration_date=expiration_date.date())


@sage_cli.command("remove-insurance")
@click.argument("vendor")
@click.argument("insurance_type", type=click.Choice(INSURANCE_TYPES))
def remove_insurance(vendor, insurance_type):
    """Remove one of a vendor's insurance policies."""
    _enter("delete_vendor_insurance", None, vendor=vendor, insurance_type=insurance_type)


_record_commands("ap-invoice", "void_or_delete_ap_invoice", ("vendor", "invoice"), "an AP invoice")
_record_commands("ar-invoice", "void_or_delete_ar_invoice", ("invoice",), "an AR (owner) invoice")
_record_commands("commitment", "void_or_delete_commitment", ("commitment",), "a commitment")
_record_commands("change-order", "void_or_delete_change_order", ("commitment", "cco"),
                 "a commitment change order")


@sage_cli.command("list")
@click.argument("listing", type=click.Choice(LISTINGS + tuple(EXPORTED) + ("settings",)))
@click.argument("job", required=False)
def list_cmd(listing, job):
    """List vendors, jobs, contracts (of JOB when given), posted costs of JOB, what the portal
    exported (AP/AR invoices, commitments and their items, change orders; of JOB when given) or
    the settings."""
    sim = _sim()
    if listing in EXPORTED or listing == "settings":
        exported = sim.exported(job=job or None)
        if listing == "settings":
            for name, value in exported["settings"].items():
                click.echo(f"{name}: {value}")
            return
        table = exported[EXPORTED[listing]]
        rows = [list(table["columns"]), *table["rows"]]
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            click.echo("  ".join(str(c).rjust(w) if i in table["numeric"] else str(c).ljust(w)
                                 for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
        if len(table["rows"]) < table["total"]:
            click.echo(f"(the latest {len(table['rows'])} of {table['total']})")
        return
    if listing == "vendors":
        for v in sim.list_vendors():
            click.echo(f"{v['Vendor']:10} {v['Name']:30} {v['Status']}")
    elif listing == "jobs":
        for j in sim.list_jobs():
            click.echo(f"{j['Job']:10} {j['Description']:30} {j['Status']:6} {j['Billing_Method']} "
                       f"{j['Billing_Level']}".rstrip())
    elif listing == "insurance":
        for i in sim.list_vendor_insurance():
            click.echo(f"{i['Vendor']:10} {i['Insurance_Type']:20} {i['Policy_Number']:20} {i['Insurance_Company']:30} "
                       f"{i['Effective_Date'] or '':10} {i['Expiration_Date']}")
    elif listing == "contracts":
        for c in sim.list_contracts(job or None):
            items = sim.list_contract_items(c["Contract"])
            total = sum((i["Original_Amount"] + i["Approved_Changes"] for i in items), 0)
            click.echo(f"{c['Contract']:20} {c['Job']:10} {c['Description']:30} {len(items)} item(s) {total:,.2f}")
    elif listing == "payments":
        for p in sim.list_ap_payments():
            click.echo(f"{p['Check_Number']:>10} {p['Check_Date']:%Y-%m-%d} {p['Vendor']:10} {p['Invoice']:15} "
                       f"{p['Amount']:>12,.2f}")
    else:
        if not job:
            raise click.ClickException("list costs needs a JOB.")
        if sim.get_job(job) is None:
            raise click.ClickException(f"No job {job} in Sage 300 CRE.")
        for t in sim.list_cost_transactions(job):
            click.echo(f"{t['Transaction_ID']:>6} {t['Date']:%Y-%m-%d} {t['Transaction_Type']:8} "
                       f"{t['Extra'] or '-':10} {t['Cost_Code']:12} {t['Category']:3} {t['Amount']:>12,.2f} "
                       f"{t['Vendor']} {t['Invoice']} {t['Commitment']}".rstrip())
