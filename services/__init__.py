"""StoreSight services: one package per service (ingest, detect, aggregate, alerts, archive)."""
