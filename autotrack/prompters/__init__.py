"""Prompters find what to follow.

A prompter is any callable `prompter(frame, frame_index) -> supervision.Detections | None`: boxes (`xyxy`) with
optional `confidence`, `class_id` and `data["class_name"]`, or None on frames it skips. The identity manager matches
them to tracks, starts new objects and re-prompts drifting ones. `YoloPrompter` is the detector; user-given boxes
and clicks with their own IDs come from `ManualPrompts`; `PointPrompter` (Lucas-Kanade optical flow or CoTracker3)
follows points on each object so SAM2 can be re-prompted where no detector helps.
"""
