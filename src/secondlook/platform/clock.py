"""Today's date, in one place: every service and page asks here (UTC), so a test can tell what
"today" was by the records it made."""

from __future__ import annotations

import datetime as dt


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
