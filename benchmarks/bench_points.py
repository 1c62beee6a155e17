"""Speed of the Lucas-Kanade point prompter: milliseconds per frame for 100 and 1,000 points on 1280x720 frames.

The frames are a synthetic textured scene seen by a camera that pans and turns slowly, so every point moves
(sub-pixel amounts included). Points are sampled as in real use, 100 per object, each object a cell of the frame.
Only `PointTracker.update` is timed (forward and backward LK, the checks, the bookkeeping).

    python benchmarks/bench_points.py
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from autotrack.points.tracker import PointTracker

WIDTH, HEIGHT = 1280, 720
FRAMES = 60


def render_frames(n: int, seed: int = 0) -> list[np.ndarray]:
    """Views of a large textured scene under a slow pan (2.5, 1.2 px/frame) and turn (0.1 deg/frame)."""
    rng = np.random.default_rng(seed)
    size = (HEIGHT + 400, WIDTH + 400)
    fine = cv2.GaussianBlur(rng.uniform(0, 255, (*size, 3)).astype(np.float32), (0, 0), 1.5)
    coarse = cv2.GaussianBlur(rng.uniform(0, 255, (*size, 3)).astype(np.float32), (0, 0), 8)
    scene = np.clip(2.4 * (fine - fine.mean()) + 3 * (coarse - coarse.mean()) + 128, 0, 255).astype(np.uint8)
    frames = []
    for t in range(n):
        view = cv2.getRotationMatrix2D((size[1] / 2, size[0] / 2), 0.1 * t, 1.0)
        view[:, 2] -= [200 - 2.5 * t, 200 - 1.2 * t]
        frames.append(cv2.warpAffine(scene, view, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR))
    return frames


def bench(frames: list[np.ndarray], num_points: int, per_object: int = 100) -> tuple[float, float, float]:
    """Median and mean ms per `update`, and the share of points still visible at the end."""
    prompter = PointTracker(num_points=per_object)
    columns = 10 if num_points > per_object else 1
    rows = max(1, num_points // per_object // columns)
    cell_w, cell_h = WIDTH // columns, HEIGHT // rows
    for i in range(num_points // per_object):
        cell = np.zeros((HEIGHT, WIDTH), bool)
        x, y = (i % columns) * cell_w, (i // columns) * cell_h
        cell[y + 40:y + cell_h - 40, x + 10:x + cell_w - 10] = True
        prompter.add_from_mask(i + 1, cell, frames[0])
    total = sum(len(track.points) for track in prompter.tracks.values())
    assert total == num_points, f"sampled {total} points, wanted {num_points}"
    times = []
    for frame in frames[1:]:
        start = time.perf_counter()
        tracks = prompter.update(frame)
        times.append(1000 * (time.perf_counter() - start))
    visible = sum(int(track.visible.sum()) for track in tracks.values()) / num_points
    return float(np.median(times)), float(np.mean(times)), visible


def main() -> None:
    frames = render_frames(FRAMES)
    print(f"LK point prompter, {WIDTH}x{HEIGHT}, {FRAMES - 1} tracked frames, OpenCV {cv2.__version__}, "
          f"{cv2.getNumThreads()} OpenCV threads")
    for num_points in (100, 1000):
        median, mean, visible = bench(frames, num_points)
        print(f"{num_points:5d} points: {median:6.1f} ms/frame median, {mean:6.1f} mean, "
              f"{100 * visible:.0f}% of points still visible at the end")


if __name__ == "__main__":
    main()
