"""The training pipeline: features, training, evaluation, lineage, tuning, tracking."""
