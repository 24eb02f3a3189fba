"""A job that is killed mid-export: Sage has committed, the portal has not (used by an integration test)."""
import os
import time

from flask import current_app

from portal.domain import services
from portal.exporters.sage300.connectors import make_connector
from portal.extensions import db
from tests.types import get_type


def export_then_hang(erp_item_id: int, attempt: int, marker: str) -> None:
    erp = services.get_erp_item(db.session, erp_item_id)
    kind = get_type(erp.item_type)
    batches = kind.export_batches(db.session, erp.item_id, erp.export_fields, services.batch_id(erp))
    db.session.commit()
    for batch in batches:
        make_connector(current_app.config).submit(batch)
    with open(marker, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(60)  # the test SIGKILLs the worker here, before the portal records Synced
