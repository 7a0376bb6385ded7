"""Every table of the store in one metadata: the records (models.py), care coordination
(care_models.py), alerts (alert_models.py), the CDS Hooks service's state (cds_models.py) and
notifications (notify_models.py). Migrations and the schema check read it from here, so that no
model module has to import the others."""

from __future__ import annotations

from sqlalchemy import MetaData

from secondlook.store import alert_models, care_models, cds_models, notify_models
from secondlook.store.models import Base

METADATA: MetaData = Base.metadata

__all__ = ["METADATA", "alert_models", "care_models", "cds_models", "notify_models"]
