"""`flask serve` as an operator runs it (the embedded default: SQLite, the embedded Redis):
every process it supervises comes back when killed, and SIGTERM stops them all. How fast is
a figure for bench/faults.py; here each only has to happen."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
# what identifies each supervised program in its command line
PROGRAMS = {"worker": ["flask", "worker"], "scheduler": ["flask", "scheduler"], "web": ["gunicorn"],
            "redis": ["redis-server"]}


def children(parent: int) -> dict[str, int]:
    """The supervised programs' pids by name (supervisord's direct children)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid != parent:
            continue
        for name, marks in PROGRAMS.items():
            if all(mark in cmdline for mark in marks):
                found[name] = int(entry.name)
    return found


def wait_for(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up after {timeout} s")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def served(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "RQ_", "SAGE_", "MAIL_"))}
    env.update(PORTAL_INSTANCE_PATH=str(tmp_path / "instance"), SECRET_KEY="serve-test", WORKERS="1",
               WEB_WORKERS="1", WEB_THREADS="2")
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "serve", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/login"))
        wait_for(lambda: set(children(process.pid)) == set(PROGRAMS))
        yield process, port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_each_killed_process_comes_back_and_sigterm_stops_them_all(served):
    process, port = served
    for name in ("worker", "scheduler", "web", "redis"):
        before = children(process.pid)[name]
        os.kill(before, signal.SIGKILL)
        wait_for(lambda name=name, before=before: children(process.pid).get(name, before) != before)
    wait_for(lambda: answers(f"http://127.0.0.1:{port}/login"))
    pids = list(children(process.pid).values())
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()
                and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]]
