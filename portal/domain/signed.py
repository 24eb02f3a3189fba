"""Signed links (itsdangerous): a row's id in a URL that nobody can forge or alter. What the row
then says (used, expired, replaced) is the row's business; the signature only says it is ours."""
from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from portal.domain.errors import NotFound

ACCOUNT = "account-invitation"
BILL = "bill-invitation"


@dataclass(frozen=True)
class Links:
    """What a mailed link needs from the web side: the portal's address and the key that signs."""
    base_url: str
    secret: str

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}{path}"


def sign(secret: str, salt: str, row_id: int) -> str:
    return str(URLSafeSerializer(secret, salt=salt).dumps(row_id))


def unsign(secret: str, salt: str, token: str) -> int:
    """The row id a token carries; NotFound for a token that was not signed by us for `salt`."""
    try:
        value = URLSafeSerializer(secret, salt=salt).loads(token or "")
    except BadSignature:
        raise NotFound("This link is not valid: check that it was copied whole from the email.") from None
    if not isinstance(value, int):
        raise NotFound("This link is not valid: check that it was copied whole from the email.")
    return value
