"""SecondLook: evaluation and coordinated care for persistent pain after spine surgery."""

__version__ = "0.1.0"
