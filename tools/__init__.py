"""Tools over the services: the storesight CLI, the demo, the local stack, offline analysis, reports, synthetic clips and the zones preview."""
