"""The streaming SAM2 engine: model building, per-object memory, motion scoring and the frame loop."""
