"""Evaluation: benchmark metrics for multi-object tracking (MOT), video object segmentation (VOS) and
single-object tracking (SOT), plus the `autotrack eval` command."""
