"""Measurement tools: argument builders and parsers of their machine-readable output. Pure functions."""
