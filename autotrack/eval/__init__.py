"""Evaluation: benchmark metrics for multi-object tracking (MOT), video object segmentation (VOS) and
single-object tracking (SOT), the `autotrack eval` command, and a synthetic scenario generator with ground truth."""
