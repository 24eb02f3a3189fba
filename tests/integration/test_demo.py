"""The demo data: every state on the tab, and the refusals Sage is meant to give."""
from sqlalchemy import func, select

from portal.domain import services
from portal.domain.lifecycle import State
from portal.domain.models import ErpItem, MailStatus, OutboxMail, SubcontractorInvoice, User


def test_seed_demo_builds_every_state_and_the_refusals(tmp_path, monkeypatch):
    from portal import create_app, demo
    from portal.extensions import db
    import flask_migrate
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.db'}",
                      "SAGE_SIM_DATABASE_URL": f"sqlite:///{tmp_path / 'sim.db'}",
                      "SAGE_SIM_SCHEMA": None, "DATABASE_SCHEMA": None,
                      "SQLALCHEMY_ENGINE_OPTIONS": {}, "SAGE_DROP_FOLDER": str(tmp_path / "drop")})
    with app.app_context():
        flask_migrate.upgrade()
        result = demo.seed(db.session, app.config, password="demo-password")
        assert result["invoices"] == db.session.scalar(select(func.count(SubcontractorInvoice.id)))
        assert 25 <= result["invoices"] <= 35 and result["projects"] == 5
        assert demo.seed(db.session, app.config) is None  # once only
        states = dict(db.session.execute(select(ErpItem.state, func.count()).where(
            ErpItem.item_type == "subcontractor_invoice").group_by(ErpItem.state)).all())
        assert states == {State.READY: 12, State.SYNCED: 5, State.FAILED: 1, State.REJECTED: 2}
        waiting = dict(db.session.execute(select(ErpItem.item_type, func.count()).where(
            ErpItem.state == State.READY, ErpItem.item_type != "subcontractor_invoice")
            .group_by(ErpItem.item_type)).all())
        assert waiting == {"vendor": 3, "job": 2, "sub_job": 1, "cost_code": 1, "commitment": 2,
                           "budget": 1, "pcco": 1, "owner_invoice": 1}
        usernames = set(db.session.scalars(select(User.username)))
        assert {"admin", "approver", "standard", "readonly", "invoiceadmin"} <= usernames
        assert {m.status for m in db.session.scalars(select(OutboxMail))} == {MailStatus.KEPT}

        # Accepting the planted invoices meets Sage's refusals.
        from portal.exporters.sage300.connectors import make_connector
        connector = make_connector(app.config)
        approver = db.session.scalars(select(User).where(User.username == "approver")).one()
        expected = {"AP-0131": "GL period closed", "AP-1199": "exceeds approved amount plus tolerance",
                    "DD-4001": "Vendor is inactive", "BL-2199": "The document has no distributions"}
        for number, text in expected.items():
            inv = db.session.scalars(select(SubcontractorInvoice).where(
                SubcontractorInvoice.number == number)).one()
            erp = services.find_erp_item(db.session, "subcontractor_invoice", inv.id)

            class Inline:
                def export(self, erp_item_id, attempt, job_id):
                    services.run_export(db.session, erp_item_id, attempt, connector)
            services.accept(db.session, approver, erp.id, {"erp_id": number, "accounting_date":
                            inv.billing_date.isoformat()}, Inline())
            erp = services.get_erp_item(db.session, erp.id)
            assert erp.state == State.FAILED and text in erp.sage_message, (number, erp.sage_message)
        from portal.domain.models import Commitment, Project
        planted = [("commitment", db.session.scalars(select(Commitment.id).where(
                        Commitment.number == "SC-24-101-09")).one(), {"sage_id": "SC-24-101-09"},
                    "Vendor is inactive/has been archived."),
                   ("job", db.session.scalars(select(Project.id).where(
                        Project.number == "24-105")).one(), {"sage_job_id": "24-105"},
                    "[Name] is too long, maximum length is 30 characters.")]
        for type_key, item_id, fields, text in planted:
            erp = services.find_erp_item(db.session, type_key, item_id)

            class Inline:
                def export(self, erp_item_id, attempt, job_id):
                    services.run_export(db.session, erp_item_id, attempt, connector)
            services.accept(db.session, approver, erp.id, fields, Inline())
            erp = services.get_erp_item(db.session, erp.id)
            assert erp.state == State.FAILED and erp.sage_message == text, (type_key, erp.sage_message)
        db.session.remove()
        db.engine.dispose()
