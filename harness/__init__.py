"""Internet-hospital resilience harness: command line, offline executor and evidence report."""

__version__ = "0.1.0"
