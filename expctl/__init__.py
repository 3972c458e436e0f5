"""expctl: experiment orchestration with a run registry."""

__version__ = "0.1.0"
