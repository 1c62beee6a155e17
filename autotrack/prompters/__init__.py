"""Prompters find what to follow.

A prompter subclasses `Prompter` (`autotrack.prompters.base`): called as `prompter(frame, frame_index)`, it returns
`supervision.Detections` (boxes, `xyxy`, with optional `confidence`, `class_id` and `data["class_name"]`) or None on
frames it skips. The identity manager matches them to tracks, starts new objects and re-prompts drifting ones.
`YoloPrompter` is the closed-set detector, `YoloePrompter` the open-vocabulary one (YOLOE / YOLO-World: objects by
name or like an example box); user-given boxes and clicks with their own IDs, and example boxes, come from
`ManualPrompts`. (A benchmark's detection file is read by `autotrack.eval.det_file`; the point tracker that keeps
points on each object lives in `autotrack.points`.)
"""

from autotrack.prompters.base import NoPrompter, Prompter, PrompterError

__all__ = ["NoPrompter", "Prompter", "PrompterError"]
