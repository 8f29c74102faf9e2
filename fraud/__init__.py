"""Fraud scoring with booking context: features, models, holds, labels and training."""
