"""API tokens' rules without an app: expiry, revocation (who may), last use at most once a minute,
the audit of create and revoke, and a list that never holds the secret."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.domain import api_tokens
from portal.domain.api_tokens import TokenRefused
from portal.domain.errors import Invalid, PermissionDenied
from portal.domain.models import ApiToken, ApiTokenAudit
from tests import factories as f

NOW = datetime(2027, 3, 1, 12, 0, 0)


def _token(session, user, **kw):
    secret = api_tokens.create_token(session, user.id, "pm-system", now=NOW, **kw)
    return secret, session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.id.desc())).first()


def test_a_token_stores_only_a_hash_and_expires_after_90_days_by_default(session):
    user = f.make_user(session)
    secret, row = _token(session, user)
    assert secret.startswith("erp_") and secret not in (row.token_hash, row.name)
    assert row.expires_at == NOW + timedelta(days=90)
    assert api_tokens.user_for_token(session, secret, now=NOW + timedelta(days=89)).id == user.id


def test_an_expired_token_is_refused_saying_so(session):
    user = f.make_user(session)
    secret, _ = _token(session, user, days=30)
    api_tokens.user_for_token(session, secret, now=NOW + timedelta(days=29))
    with pytest.raises(TokenRefused, match="expired on 2027-03-31"):
        api_tokens.user_for_token(session, secret, now=NOW + timedelta(days=30))


def test_a_revoked_token_is_refused_saying_so(session):
    user = f.make_user(session)
    secret, row = _token(session, user)
    api_tokens.revoke_token(session, user, row.id, now=NOW + timedelta(hours=1))
    with pytest.raises(TokenRefused, match="revoked on 2027-03-01 13:00"):
        api_tokens.user_for_token(session, secret, now=NOW + timedelta(hours=2))
    with pytest.raises(TokenRefused, match="not valid"):
        api_tokens.user_for_token(session, "erp_nope", now=NOW)


def test_an_expiry_date_is_the_end_of_that_day_and_must_be_ahead(session):
    user = f.make_user(session)
    _, row = _token(session, user, expires_on="2027-04-15")
    assert row.expires_at == datetime(2027, 4, 15, 23, 59, 59)
    for kw, field in [({"expires_on": "2027-03-01"}, "expires_on"), ({"expires_on": "soon"}, "expires_on"),
                      ({"expires_on": date(2040, 1, 1)}, "expires_on"), ({"days": 0}, "days"),
                      ({"days": "x"}, "days"), ({"days": 5000}, "days")]:
        with pytest.raises(Invalid) as exc:
            _token(session, user, **kw)
        assert field in exc.value.fields, kw


def test_last_used_is_written_at_most_once_a_minute(session):
    user = f.make_user(session)
    secret, row = _token(session, user)
    assert row.last_used_at is None
    api_tokens.user_for_token(session, secret, now=NOW + timedelta(seconds=10))
    assert row.last_used_at == NOW + timedelta(seconds=10)
    api_tokens.user_for_token(session, secret, now=NOW + timedelta(seconds=50))
    assert row.last_used_at == NOW + timedelta(seconds=10)
    api_tokens.user_for_token(session, secret, now=NOW + timedelta(seconds=71))
    assert row.last_used_at == NOW + timedelta(seconds=71)


def test_who_may_revoke_and_the_audit_rows(session):
    owner, admin, other = f.make_user(session), f.make_user(session, site_admin=True), f.make_user(session)
    _, row = _token(session, owner, actor=admin)
    with pytest.raises(PermissionDenied):
        api_tokens.revoke_token(session, other, row.id)
    assert row.revoked_at is None
    api_tokens.revoke_token(session, admin, row.id, now=NOW)
    api_tokens.revoke_token(session, owner, row.id)          # again: nothing changes
    assert row.revoked_at == NOW
    _, mine = _token(session, owner)                         # the command line: no actor
    api_tokens.revoke_token(session, owner, mine.id, now=NOW)
    audit = [(a.token_id, a.action, a.actor_id) for a in session.scalars(
        select(ApiTokenAudit).order_by(ApiTokenAudit.id))]
    assert audit == [(row.id, "create", admin.id), (row.id, "revoke", admin.id),
                     (mine.id, "create", None), (mine.id, "revoke", owner.id)]


def test_the_list_shows_name_expiry_last_use_and_status_never_the_secret(session):
    user = f.make_user(session)
    secret, row = _token(session, user)
    api_tokens.user_for_token(session, secret, now=NOW)
    later, _ = _token(session, user, days=1)
    rows = api_tokens.tokens_of(session, user.id, now=NOW + timedelta(days=2))
    assert [r.status for r in rows] == ["expired", "active"]
    assert rows[1].name == "pm-system" and rows[1].last_used_at == NOW
    assert rows[1].expires_at == NOW + timedelta(days=90)
    assert not any(v in (secret, later, row.token_hash) for r in rows for v in vars(r).values())
