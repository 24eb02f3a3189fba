"""The words of the portal's emails (plain text and HTML, escaped)."""
from __future__ import annotations

from html import escape

from portal.domain.itemtypes import ItemSummary


def rejection_mail(company: str, type_label: str, summary: ItemSummary, reason: str,
                   approver: str, link: str) -> tuple[str, str, str]:
    """Subject, text and HTML of "<Company>: ERP <Type> Rejection Notification"."""
    subject = f"{company}: ERP {type_label} Rejection Notification"
    facts = [("Project", summary.project), (type_label, summary.title),
             ("Vendor", summary.vendor), ("Amount", summary.amount),
             ("Rejected by", approver), ("Reason", reason)]
    text = "\n".join(
        [f"{type_label} was rejected by accounting and was not exported to Sage 300 CRE.", ""]
        + [f"{k}: {v}" for k, v in facts]
        + ["", f"Fix it and resend it to ERP: {link}", ""])
    rows = "".join(f"<tr><th align='left' style='padding:2px 12px 2px 0'>{escape(k)}</th>"
                   f"<td>{escape(v)}</td></tr>" for k, v in facts)
    html = (f"<html><body style='font-family:sans-serif'>"
            f"<p>{escape(type_label)} was rejected by accounting and was not exported to "
            f"Sage 300 CRE.</p><table>{rows}</table>"
            f"<p><a href='{escape(link, quote=True)}'>Open it to fix and resend it to ERP</a></p>"
            f"</body></html>")
    return subject, text, html
