"""Database fixtures shared by the Sage simulator's integration tests.

SQLite in tmp_path by default; PostgreSQL (a fresh schema per test, dropped afterwards)
when DATABASE_URL starts with "postgresql". Test modules import the fixtures by name.
"""
import os
import uuid
from datetime import datetime

import pytest
from sqlalchemy import create_engine

from portal.exporters.sage300.simulator import Sage300Simulator

PG_URL = os.environ.get("DATABASE_URL", "")
ON_PG = PG_URL.startswith("postgresql")


class Clock:
    """A settable clock for the simulator (hourly limits, timestamps)."""

    def __init__(self):
        self.now = datetime(2026, 10, 1, 12, 0)

    def __call__(self):
        return self.now


def pg_url():
    # a bare postgresql:// would pick psycopg2, which is not installed
    return PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)


def new_db(tmp_path):
    if ON_PG:
        return pg_url(), "sim_" + uuid.uuid4().hex[:12]
    return f"sqlite:///{tmp_path / ('sage-' + uuid.uuid4().hex[:8] + '.db')}", None


def drop_schema(schema):
    engine = create_engine(pg_url())
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture
def databases(tmp_path):
    """A factory of fresh (url, schema) pairs, cleaned up afterwards."""
    made = []

    def new():
        made.append(new_db(tmp_path))
        return made[-1]
    yield new
    for _url, schema in made:
        if schema:
            drop_schema(schema)


@pytest.fixture
def db(databases):
    return databases()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_sim(db, clock):
    """Builds simulators on the test's database (same url/schema), disposing them afterwards."""
    sims = []

    def make(**kw):
        kw.setdefault("clock", clock)
        sims.append(Sage300Simulator(db[0], db[1], **kw))
        return sims[-1]
    yield make
    for s in sims:
        s.dispose()


def simulator(make_sim, tmp_path, seed) -> Sage300Simulator:
    """A simulator on the test's database, its tables made and `seed(sim)` entered, dropping its import
    files in tmp_path (each simulator test module's `sim` fixture)."""
    sim = make_sim(drop_folder=str(tmp_path / "drop"))
    sim.create_all()
    seed(sim)
    return sim


def submit_at_once(sims, batch) -> list:
    """Each simulator (separate engines and pools, as separate worker processes have) submits the same
    batch at the same moment; their results."""
    import threading
    barrier, results = threading.Barrier(len(sims)), []

    def go(sim):
        barrier.wait()
        results.append(sim.submit(batch))
    threads = [threading.Thread(target=go, args=(sim,)) for sim in sims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
