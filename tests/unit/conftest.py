"""Unit-test fixtures: a database without an app."""
from __future__ import annotations

import flask
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from portal.domain.models import Base, Company


@pytest.fixture
def session():
    """A plain SQLAlchemy Session on an in-memory SQLite database, no Flask app."""
    assert not flask.has_app_context()
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Company(name="Test Builders", consolidate_invoice_lines=True))
        s.commit()
        yield s
    engine.dispose()
