"""Monitoring: a batch of new data checked for drift against the training data, and folded in."""
