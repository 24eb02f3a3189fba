"""Limits on password guesses (Flask-Limiter on the app's Redis): refused sign-ins, and wrong
current passwords on My account's password change, count against the same two limits, per
account and per address; a breach is answered 429 with how long to wait."""
from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import current_app, g
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address

from portal.extensions import limiter

# shared limits: every view decorated with password_guesses counts on the same two counters
ACCOUNT_SCOPE, ADDRESS_SCOPE = "login-account", "login-address"


def account_key(username: str) -> str:
    return "account:" + (username or "").strip().lower()


def refused_guess() -> None:
    """Tell the limits this request was a wrong password (only those count)."""
    g.wrong_password = True


def _counted(response) -> bool:
    return bool(g.get("wrong_password"))


def _window() -> str:
    return f"{current_app.config['LOGIN_ATTEMPT_WINDOW_MINUTES']} minutes"


def wait_message(limit: RequestLimit, what: str) -> tuple[str, int]:
    """'Too many sign-in attempts <what>; try again in N minutes.' and the Retry-After seconds."""
    minutes = max(1, math.ceil((limit.reset_at - time.time()) / 60))
    text = f"Too many sign-in attempts {what}; try again in {minutes} minute{'s' if minutes != 1 else ''}."
    return text, max(1, int(limit.reset_at - time.time()))


def password_guesses(account: Callable[[], str], answer: Callable[[RequestLimit, str], object]):
    """Decorator: the view's POSTs that call refused_guess() count towards the per-account
    (`account()`, an account_key) and per-address limits; beyond either, answer(limit, what)
    is the response (it should be a 429 saying what wait_message says)."""
    def breach(what: str):
        return lambda limit: answer(limit, what)

    def decorate(view):
        view = limiter.shared_limit(lambda: f"{current_app.config['LOGIN_ATTEMPTS_PER_ADDRESS']} per {_window()}",
                                    ADDRESS_SCOPE, key_func=get_remote_address, methods=["POST"],
                                    deduct_when=_counted, on_breach=breach("from this address"))(view)
        return limiter.shared_limit(lambda: f"{current_app.config['LOGIN_ATTEMPTS_PER_ACCOUNT']} per {_window()}",
                                    ACCOUNT_SCOPE, key_func=account, methods=["POST"],
                                    deduct_when=_counted, on_breach=breach("for this account"))(view)
    return decorate
