"""Releases: versions and stages as git tags (GTO), their guards, deployment and publishing."""
