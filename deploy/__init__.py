"""Deployment assets (Kubernetes, Prometheus, Grafana) and the offline checks that keep them right."""
