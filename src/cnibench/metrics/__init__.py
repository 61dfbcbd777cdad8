"""Node metrics: node_exporter on every node, one Prometheus, queries over each repetition's measurement window.

This package imports only the standard library: ``python -m cnibench.metrics`` runs inside a network namespace
once per repetition, and its start-up time counts.
"""
