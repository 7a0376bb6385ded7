"""The assessment engine: a pure function from a case to an explainable assessment."""

from secondlook.engine.assess import ASSESSMENT_SCHEMA, ENGINE_VERSION, assess

__all__ = ["ASSESSMENT_SCHEMA", "ENGINE_VERSION", "assess"]
