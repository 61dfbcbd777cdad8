"""Scenarios: what each one deploys, measures and verifies."""
