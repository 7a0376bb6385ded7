"""What the store refuses (the classes live in ``platform.errors``, below every layer)."""

from __future__ import annotations

from secondlook.platform.errors import Conflict, NotFound, StaleVersion, StoreError

__all__ = ["Conflict", "NotFound", "StaleVersion", "StoreError"]
