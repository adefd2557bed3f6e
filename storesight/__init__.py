"""StoreSight: in-store video analytics on Kafka. This package is the shared library and CLI."""

__version__ = "0.1.0"
