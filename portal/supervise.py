"""`flask serve`'s processes under supervisord (the supervisor package): gunicorn for the web,
N RQ workers, the scheduler and, with no REDIS_URL, the embedded Redis. supervisord restarts
whatever exits (with its back-off when a process dies again at once) and stops them all on
SIGTERM or Ctrl-C. It was chosen over honcho, which stops every process when one dies, and
over a loop of our own: it is the well-kept tool for exactly this.

This module only writes the configuration; `flask serve` then becomes supervisord.
"""
from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass

from portal.embedded_redis import socket_path


@dataclass(frozen=True)
class Plan:
    instance_path: str
    host: str
    port: int
    workers: int            # RQ workers
    web_workers: int        # gunicorn worker processes
    web_threads: int        # threads in each
    redis_server: str | None = None   # the embedded Redis's server binary; None: REDIS_URL is set

    @property
    def redis_url(self) -> str:
        return f"unix://{socket_path(self.instance_path)}"


def redis_conf(plan: Plan) -> str:
    """The embedded Redis: a unix socket and its data in the instance folder, no TCP port."""
    return "\n".join([
        "port 0",
        f"unixsocket {socket_path(plan.instance_path)}",
        "unixsocketperm 700",
        f"dir {plan.instance_path}",
        "dbfilename redis.rdb",
        "save 60 1",
        "appendonly yes",
        "appendfilename redis.aof",
        "",
    ])


def _program(name: str, command: list[str], priority: int, **extra: str) -> str:
    lines = [
        f"[program:{name}]",
        "command=" + " ".join(shlex.quote(part) for part in command),
        f"priority={priority}",
        "autostart=true",
        "autorestart=true",
        # running after 1 s; a process that dies sooner is retried with a growing delay
        "startsecs=1",
        "startretries=1000",
        "stopsignal=TERM",
        "stopwaitsecs=3",
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        "stdout_logfile=/dev/stdout",
        "stdout_logfile_maxbytes=0",
    ]
    lines += [f"{key}={value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def supervisord_conf(plan: Plan, python: str = sys.executable) -> str:
    """supervisord's configuration for the plan (programs start in priority order: Redis first)."""
    flask = [python, "-m", "flask", "--app", "app"]
    parts = [
        "[supervisord]",
        "nodaemon=true",
        "logfile=/dev/null",
        "logfile_maxbytes=0",
        f"pidfile={os.path.join(plan.instance_path, 'supervisord.pid')}",
        f"childlogdir={plan.instance_path}",
        "",
    ]
    if plan.redis_server:
        parts.append(_program("redis", [plan.redis_server, os.path.join(plan.instance_path, "redis.conf")], 10))
    # RQ names each worker uniquely itself: a restarted one must not take the name its killed
    # predecessor still holds in Redis
    parts.append(_program("worker", [*flask, "worker"], 20, numprocs=str(plan.workers),
                          process_name="worker-%(process_num)d"))
    parts.append(_program("scheduler", [*flask, "scheduler"], 30))
    parts.append(_program("web", [
        python, "-m", "gunicorn", "--bind", f"{plan.host}:{plan.port}", "--workers", str(plan.web_workers),
        "--threads", str(plan.web_threads), "--graceful-timeout", "3", "--access-logfile", "-", "app:app"], 40))
    # one group: supervisord stops a group's processes together (then Redis, last)
    parts.append("[group:portal]\nprograms=worker,scheduler,web\npriority=20\n")
    return "\n".join(parts)


def write(plan: Plan, python: str = sys.executable) -> str:
    """Write supervisord's configuration (and the embedded Redis's) into the instance folder;
    returns the path of supervisord's."""
    os.makedirs(plan.instance_path, exist_ok=True)
    if plan.redis_server:
        with open(os.path.join(plan.instance_path, "redis.conf"), "w") as fh:
            fh.write(redis_conf(plan))
    path = os.path.join(plan.instance_path, "supervisord.conf")
    with open(path, "w") as fh:
        fh.write(supervisord_conf(plan, python))
    return path
