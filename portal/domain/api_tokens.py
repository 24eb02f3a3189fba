"""API tokens for the JSON API: created with a name and an expiry, listed, revoked, audited.

Only a SHA-256 of the secret is stored; the secret is returned once, by `create_token`. A token
works until it expires or is revoked; `user_for_token` refuses it then with a message saying
which. `last_used_at` is written at most once a minute per token, so a busy client costs a
read, not a write, per request."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import policy
from portal.domain.errors import DomainError, Invalid, NotFound, PermissionDenied
from portal.domain.models import ApiToken, ApiTokenAudit, User, utcnow
from portal.domain.uow import transactional
from portal.domain.users import get_user

DEFAULT_DAYS = 90
EXPIRY_CHOICES = (30, 90, 180, 365)     # days, offered by the form; a date may be given instead
MAX_DAYS = 3 * 365
LAST_USED_EVERY = timedelta(minutes=1)
PREFIX = "erp_"


class TokenRefused(DomainError):
    """The token may not be used: unknown, expired, revoked, or its user inactive."""
    status = 401


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def expiry(now: datetime, days: int | str | None = None, on: date | str | None = None) -> datetime:
    """When a token made at `now` expires: at the end of day `on`, or `days` days on (90 by default)."""
    if on:
        if isinstance(on, str):
            try:
                on = date.fromisoformat(on)
            except ValueError:
                raise Invalid("Please correct the expiry.", fields={"expires_on": "Enter a date."}) from None
        if on <= now.date():
            raise Invalid("Please correct the expiry.", fields={"expires_on": "Choose a date after today."})
        if on > now.date() + timedelta(days=MAX_DAYS):
            raise Invalid("Please correct the expiry.",
                          fields={"expires_on": f"At most {MAX_DAYS} days from today."})
        return datetime.combine(on, time.max).replace(microsecond=0)
    try:
        n = DEFAULT_DAYS if days in (None, "") else int(days)
    except (TypeError, ValueError):
        n = 0
    if not 1 <= n <= MAX_DAYS:
        raise Invalid("Please correct the expiry.", fields={"days": f"Between 1 and {MAX_DAYS} days."})
    return now + timedelta(days=n)


@transactional
def create_token(session: Session, user_id: int, name: str, *, days: int | str | None = None,
                 expires_on: date | str | None = None, actor: User | None = None,
                 now: datetime | None = None) -> str:
    """A new API token for the user, expiring after `days` (or at the end of `expires_on`); the
    secret is returned once and never stored. `actor` None: the command line."""
    user = get_user(session, user_id)
    name = (name or "").strip() or "API token"
    if len(name) > 80:
        raise Invalid("The token name is too long.", fields={"name": "At most 80 characters."})
    now = now or utcnow()
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_hash(secret), created_at=now,
                     expires_at=expiry(now, days, expires_on))
    session.add(token)
    session.flush()
    session.add(ApiTokenAudit(token_id=token.id, actor_id=actor.id if actor else None,
                              action="create", at=now))
    session.commit()
    return secret


def get_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("No such API token.")
    return token


def may_revoke(actor: User, token: ApiToken) -> bool:
    """A token's own user or a site administrator."""
    return actor.id == token.user_id or policy.can(actor, policy.MANAGE_USERS)


@transactional
def revoke_token(session: Session, actor: User, token_id: int, now: datetime | None = None) -> ApiToken:
    """Revoke a token (its user or a site administrator); revoking it again changes nothing."""
    token = get_token(session, token_id)
    if not may_revoke(actor, token):
        raise PermissionDenied("Only the token's user or a site administrator may revoke it.")
    if token.revoked_at is None:
        now = now or utcnow()
        token.revoked_at = now
        session.add(ApiTokenAudit(token_id=token.id, actor_id=actor.id, action="revoke", at=now))
        session.commit()
    return token


@dataclass(frozen=True)
class TokenRow:
    """One token as a list shows it: never the secret nor its hash."""
    id: int
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: str          # "active" | "expired" | "revoked"


def status(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= now:
        return "expired"
    return "active"


def tokens_of(session: Session, user_id: int, now: datetime | None = None) -> list[TokenRow]:
    """A user's tokens, newest first."""
    now = now or utcnow()
    rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                           .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
    return [TokenRow(t.id, t.name, t.created_at, t.expires_at, t.last_used_at, t.revoked_at,
                     status(t, now)) for t in rows]


@transactional
def user_for_token(session: Session, secret: str, now: datetime | None = None) -> User:
    """The user a token acts as, or TokenRefused saying why not; notes its use (once a minute)."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _hash(secret))).first() \
        if secret else None
    if row is None:
        raise TokenRefused("That API token is not valid.")
    now = now or utcnow()
    if row.revoked_at is not None:
        raise TokenRefused(f"That API token was revoked on {row.revoked_at:%Y-%m-%d %H:%M} UTC; "
                           "ask for a new one.")
    if row.expires_at <= now:
        raise TokenRefused(f"That API token expired on {row.expires_at:%Y-%m-%d %H:%M} UTC; "
                           "ask for a new one.")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise TokenRefused("That API token is not valid: its user is inactive.")
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        row.last_used_at = now
        session.commit()
    return user
