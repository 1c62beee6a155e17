"""Evaluation: MOT and VOS metrics, and synthetic scenarios with exact ground truth."""
