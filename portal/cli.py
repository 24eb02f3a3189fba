"""Command line: users, demo data, the worker, and `serve` (web + workers + embedded Redis)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import cast

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from werkzeug.local import LocalProxy

from portal.domain import api_tokens, services, users as user_service
from portal.domain.errors import DomainError
from portal.domain.models import ToolLevel
from portal.extensions import db

users_cli = AppGroup("users", help="Manage users and their permissions.")
exports_cli = AppGroup("exports", help="Inspect and recover exports.")


def _fail(exc: DomainError):
    details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
    raise click.ClickException(f"{exc.message} {details}".strip())


def _current_app() -> Flask:
    """The app itself behind the current_app proxy (Flask annotates the proxy as a Flask)."""
    return cast("LocalProxy[Flask]", current_app)._get_current_object()


@users_cli.command("create")
@click.argument("username")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--erp-level", type=click.Choice(ToolLevel.ORDER), default=ToolLevel.NONE)
@click.option("--push/--no-push", default=False, help="Can Push to Accounting.")
@click.option("--site-admin/--no-site-admin", default=False)
def users_create(username, name, email, password, erp_level, push, site_admin):
    """Create a user."""
    try:
        user = user_service.create_user(db.session(), username=username, name=name, email=email,
                                        password=password, erp_level=erp_level,
                                        can_push_to_accounting=push, is_site_admin=site_admin)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"created {user.username}")


@users_cli.command("list")
def users_list():
    """List users with their levels."""
    for u in user_service.all_users(db.session()):
        click.echo(f"{u.username:16} erp={u.erp_level:10} push={'yes' if u.can_push_to_accounting else 'no':3} "
                   f"approver={'yes' if u.is_accounting_approver else 'no':3} "
                   f"site_admin={'yes' if u.is_site_admin else 'no'} active={'yes' if u.active else 'no'}")


@users_cli.command("set")
@click.argument("username")
@click.option("--erp-level", type=click.Choice(ToolLevel.ORDER))
@click.option("--push/--no-push", default=None, help="Grant or revoke Can Push to Accounting.")
@click.option("--site-admin/--no-site-admin", default=None)
@click.option("--active/--inactive", default=None)
@click.option("--password", default=None)
def users_set(username, erp_level, push, site_admin, active, password):
    """Change a user's ERP level, Can Push to Accounting privilege, admin flag or password."""
    try:
        user = user_service.find_user(db.session(), username)
        user_service.update_user(
            db.session(), user.id, name=user.name, email=user.email,
            erp_level=erp_level or user.erp_level,
            can_push_to_accounting=user.can_push_to_accounting if push is None else push,
            is_site_admin=user.is_site_admin if site_admin is None else site_admin,
            active=user.active if active is None else active, password=password or "")
    except DomainError as exc:
        _fail(exc)
    click.echo(f"updated {username}")


@users_cli.command("project")
@click.argument("username")
@click.argument("project_number")
@click.argument("level", type=click.Choice(ToolLevel.ORDER))
def users_project(username, project_number, level):
    """Set a user's level on a project's financial tools."""
    try:
        user = user_service.find_user(db.session(), username)
        project = user_service.find_project(db.session(), project_number)
        user_service.set_project_level(db.session(), user.id, project.id, level)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"{username} is {level} on {project_number}")


@users_cli.command("token")
@click.argument("username")
@click.option("--name", default="API token", show_default=True)
@click.option("--days", default=api_tokens.DEFAULT_DAYS, show_default=True, type=int,
              help="Days until the token expires.")
def users_token(username, name, days):
    """Create an API token for a user (printed once; only its hash is kept)."""
    try:
        user = user_service.find_user(db.session(), username)
        token = api_tokens.create_token(db.session(), user.id, name, days=days)
    except DomainError as exc:
        _fail(exc)
    click.echo(token)
    click.echo(f"Copy it now: it is not shown again. It expires in {days} days.", err=True)


@exports_cli.command("requeue-stalled")
@click.option("--older-than", default=120, show_default=True, help="Seconds in Exporting.")
def requeue_stalled(older_than):
    """Queue again every export stuck in Exporting (a worker died, Redis was down)."""
    from portal.queue import RQJobQueue
    count = services.requeue_stalled(db.session(), timedelta(seconds=older_than), RQJobQueue())
    click.echo(f"requeued {count} export(s)")


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even if the portal already has data.")
def seed_demo(force):
    """Load the demo company, projects, vendors, invoices and the Sage side."""
    from portal import demo
    password = os.environ.get("DEMO_PASSWORD") or None
    printed = password is None
    result = demo.seed(db.session(), current_app.config, password=password, force=force)
    if result is None:
        click.echo("demo data already present (use --force to add it again)")
        return
    click.echo(f"demo data loaded: {result['invoices']} invoices, {result['projects']} projects")
    if printed:
        click.echo("demo users admin, approver, standard, readonly, invoiceadmin, contact; "
                   f"password: {result['password']}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--name", default=None)
def worker_cmd(burst, name):
    """Run an RQ worker in the app context (it waits out a Redis outage, reconnecting)."""
    from portal import jobs  # imported once here, not per job
    from portal.worker import make_worker
    worker = make_worker(_current_app(), name=name)
    try:
        reaped = jobs.reap(scheduled=False)  # what a worker that died before this one left behind
    except Exception as exc:  # noqa: BLE001 - the worker starts anyway; the scheduler's tick reaps too
        click.echo(f"reaper: {exc}", err=True)
    else:
        click.echo(f"reaper: {reaped}")
    # no RQ scheduler: what is due later (mail and export retries) is queued by the reaper
    worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")


@click.command("scheduler")
@click.option("--tick", type=int, default=None, help="Seconds between looks at the sync schedule.")
def scheduler_cmd(tick):
    """Run the schedule: a look at the sync schedule every tick (RQ's cron scheduler) and the
    reaper every REAPER_TICK_SECONDS. Several may run (one per machine); a Redis outage is
    waited out."""
    from portal import schedule
    schedule.run(_current_app(), tick)


@click.command("serve")
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "5000")), show_default="5000 or $PORT")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--workers", type=int, default=lambda: int(os.environ.get("WORKERS", "1")), show_default="1 or $WORKERS")
@click.option("--dev", is_flag=True, help="Werkzeug's development server, workers unsupervised (not for production).")
def serve(port, host, workers, dev):
    """Run the portal: gunicorn, RQ workers, the scheduler and (REDIS_URL unset) the embedded
    Redis, under supervisord, which restarts whatever exits; Ctrl-C or SIGTERM stops them all."""
    app: Flask = _current_app()
    if dev:
        return _serve_dev(app, host, port, workers)
    from portal import supervise
    from portal.embedded_redis import server_binary
    redis_server = server_binary() if app.config["REDIS_EMBEDDED"] else None
    plan = supervise.Plan(
        instance_path=app.instance_path, host=host, port=port, workers=workers,
        web_workers=int(os.environ.get("WEB_WORKERS", "2")), web_threads=int(os.environ.get("WEB_THREADS", "4")),
        redis_server=redis_server)
    conf = supervise.write(plan)
    if redis_server:
        os.environ["REDIS_URL"] = plan.redis_url
        click.echo(f"embedded Redis on {plan.redis_url}")
    click.echo(f"{workers} worker(s), the scheduler and gunicorn ({plan.web_workers} x {plan.web_threads} threads) "
               f"under supervisord; portal on http://{host}:{port}")
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "supervisor.supervisord", "-c", conf])


def _serve_dev(app: Flask, host: str, port: int, workers: int) -> None:
    """Werkzeug's development server, with workers and the scheduler as plain children."""
    redis_server = None
    if app.config["REDIS_EMBEDDED"]:
        from portal.embedded_redis import start
        redis_server = start(app.instance_path)
        click.echo(f"embedded Redis on {app.config['REDIS_URL']}")
    env = dict(os.environ, REDIS_URL=app.config["REDIS_URL"])
    procs = []

    def stop(signum, _frame):
        raise SystemExit(128 + signum)  # run the finally below: workers, then Redis
    signal.signal(signal.SIGTERM, stop)
    try:
        procs = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker",
                                   "--name", f"portal-{os.getpid()}-{i}"], env=env)
                 for i in range(workers)]
        procs.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "scheduler"], env=env))
        click.echo(f"{workers} worker(s) started; portal on http://{host}:{port} (development server)")
        from werkzeug.serving import run_simple
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        # Workers first, then the Redis they are connected to.
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
        if redis_server is not None:
            redis_server.shutdown()


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(exports_cli)
    app.cli.add_command(seed_demo)
    app.cli.add_command(worker_cmd)
    app.cli.add_command(serve)
    app.cli.add_command(scheduler_cmd)
    from portal.sage_cli import sage_cli
    app.cli.add_command(sage_cli)
