"""Render the sample clip that ships with autotrack, and the first-frame boxes of its objects.

The clip is the synthetic "mixed" scenario (`autotrack.eval.synthetic`): textured objects moving over a textured
background, one hidden for a while behind a larger one, two crossing, one leaving and coming back beside a
look-alike, two entering late. It is drawn from a fixed seed, so running this again gives the same frames:

    python examples/make_sample.py          # writes examples/sample.mp4 and examples/sample_prompts.json

The prompts file holds the box of every object visible on frame 0, under its ground-truth ID, in the format of
`autotrack track --prompts` (frames 0-based, pixels).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from autotrack.eval.synthetic import Scenario, make_scenario, render_frame, render_scenario
from autotrack.sinks.video import FfmpegWriter

HERE = Path(__file__).resolve().parent
SIZE = (320, 240)  # width, height
FPS = 25.0
FRAMES = 90  # 3.6 s
SEED = 0


def sample_scenario() -> Scenario:
    """The scenario the sample clip shows."""
    return make_scenario("mixed", n_frames=FRAMES, size=SIZE, seed=SEED, fps=FPS)


def first_frame_boxes(scenario: Scenario) -> dict[int, list[int]]:
    """Object ID -> xyxy pixel box of every object visible on frame 0."""
    _, truth = render_frame(scenario, 0)
    return {int(i): [round(float(v)) for v in box] for i, box in zip(truth.ids, truth.boxes)}


def write_prompts(boxes: dict[int, list[int]], path: Path) -> None:
    """Write `{"objects": [{"id", "frame": 0, "box"}]}`, one object per line."""
    lines = [json.dumps({"id": object_id, "frame": 0, "box": box}) for object_id, box in boxes.items()]
    path.write_text('{"objects": [\n  ' + ",\n  ".join(lines) + "\n]}\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=HERE, help="where to write the two files")
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("make_sample.py needs ffmpeg on PATH (H.264, which browsers and OpenCV play)")

    scenario = sample_scenario()
    writer = FfmpegWriter(ffmpeg, args.out_dir / "sample.mp4", FPS, SIZE)
    try:
        for frame, _ in render_scenario(scenario):
            writer.write(frame)
    finally:
        writer.release()
    boxes = first_frame_boxes(scenario)
    write_prompts(boxes, args.out_dir / "sample_prompts.json")
    print(f"wrote {args.out_dir / 'sample.mp4'} ({FRAMES} frames, {SIZE[0]}x{SIZE[1]}, {FPS:g} fps) and "
          f"{args.out_dir / 'sample_prompts.json'} ({len(boxes)} objects on frame 0)")


if __name__ == "__main__":
    main()
