"""StoreSight: in-store video analytics on Kafka. This package is the core library: config, contracts, bus, topics, broker, service runner; it imports nothing from services/ or tools/."""

__version__ = "0.1.0"
