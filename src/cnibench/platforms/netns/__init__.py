"""The embedded platform: a cluster of Linux network namespaces on one machine (no Docker, no Kubernetes)."""
