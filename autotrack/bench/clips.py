"""The clip every run of a bench reads: a given video or a synthetic one written first, and the boxes prompted on its
first frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autotrack.errors import InputError
from autotrack.eval.synthetic import make_scenario, render_frame
from autotrack.sinks.video import open_video_writer
from autotrack.sources import open_source
from autotrack.sources.video import VideoSource
from autotrack.types import Prompt

SYNTHETIC_SIZE = (960, 540)  # (width, height), the size of the SAM2 demo videos


@dataclass
class Clip:
    """A video file every run reads, and the boxes (xyxy, frame pixels) prompted on its first frame."""

    video: Path
    boxes: np.ndarray
    frames: int  # frames each run processes


def make_clip(source: str | Path | None, frames: int, objects: int, work_dir: str | Path,
              size: tuple[int, int] = SYNTHETIC_SIZE) -> Clip:
    """The clip to run: a video file, or (source None) the synthetic "mixed" scenario written to an mp4.

    The synthetic clip is prompted with its objects' true boxes; a video with `objects` boxes spread side by side
    across the middle of the frame. A video shorter than `frames` is run to its end.
    """
    if frames < 2:
        raise InputError(f"a benchmark needs at least 2 frames, got {frames}")
    if objects < 1:
        raise InputError(f"a benchmark needs at least 1 object, got {objects}")
    if source is None:
        scenario = make_scenario("mixed", n_frames=frames, size=size, seed=0)
        video = Path(work_dir) / "synthetic.mp4"
        writer = open_video_writer(video, scenario.fps, size)
        try:
            for index in range(frames):
                frame, truth = render_frame(scenario, index)
                writer.write(frame)
                if index == 0:
                    boxes = truth.boxes
        finally:
            writer.release()
        if objects > len(boxes):
            raise InputError(f"the synthetic clip has {len(boxes)} objects on its first frame, not {objects}")
        return Clip(video, boxes[:objects], frames)
    with open_source(str(source)) as src:
        if not isinstance(src, VideoSource):
            raise InputError(f"{source}: give a video file (ultralytics' video predictor reads only those)")
        return Clip(Path(source), spread_boxes(src.size, objects), min(frames, src.total))


def spread_boxes(size: tuple[int, int], n: int) -> np.ndarray:
    """n boxes side by side across the middle of a (width, height) frame: stand-in prompts for an unlabelled video."""
    width, height = size
    step = width / n
    return np.array([[i * step + 0.1 * step, 0.3 * height, (i + 1) * step - 0.1 * step, 0.7 * height]
                     for i in range(n)], dtype=np.float32)


def clip_prompts(clip: Clip) -> dict[int, Prompt]:
    """The clip's boxes as prompts with object ids 1, 2, ..."""
    return {k + 1: Prompt(box=box) for k, box in enumerate(clip.boxes)}
