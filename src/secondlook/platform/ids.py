"""Record ids: 32-bit integers in the database, so every id a client sends is checked
against this bound before it reaches a query (PostgreSQL refuses larger ones with an error)."""

from typing import Final

MAX_ID: Final = 2**31 - 1
