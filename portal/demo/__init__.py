"""The demo: every item type in every state on the portal side (portal_side), and the Sage side
(sage_side: what only Sage holds) that its exports and syncs meet. `flask seed-demo` loads it."""
from __future__ import annotations

from portal.demo.portal_side import seed

__all__ = ["seed"]
