"""Tests of the deployment files: Dockerfile, deploy/ (Compose helpers, Kubernetes manifests)."""
