"""Quiet by default: a normal `autotrack track` run prints autotrack's own output only, no library's warnings (an
ultralytics deprecation on every frame, OpenCV's `[ WARN:0@...]` lines); `autotrack -v` still shows OpenCV's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autotrack.eval.synthetic import make_scenario, render_scenario
from autotrack.quiet import QUIET_VIDEO_IO
from autotrack.sinks.video import open_video_writer

REPO = Path(__file__).resolve().parents[1]
MISSING_CAMERA = "7"  # a webcam index no test machine has: OpenCV warns for every backend it tries


def autotrack(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The command line as a user runs it, in a fresh process whose environment does not silence OpenCV already
    (this test process imported autotrack, which set the variables in it)."""
    env = {key: value for key, value in os.environ.items() if key not in QUIET_VIDEO_IO}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "autotrack.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 4-frame 96x64 synthetic video."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    scenario = make_scenario("crossing", n_frames=4, size=(96, 64), seed=0)
    writer = open_video_writer(path, scenario.fps, (96, 64))
    for frame, _ in render_scenario(scenario):
        writer.write(frame)
    writer.release()
    return path


def test_the_default_yolo_pipeline_prints_no_library_warnings(clip, tmp_path):
    done = autotrack("track", str(clip), "--detector", "random", "--sam-weights", "random", "--imgsz", "64",
                     "--max-frames", "3", "--mot", "out.txt", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "frames  3" in done.stdout
    for output in (done.stdout, done.stderr):
        assert "deprecated" not in output and "[ WARN" not in output and "[ERROR" not in output, output


def test_opencv_is_quiet_about_a_missing_camera_unless_asked(tmp_path):
    quiet = autotrack("track", MISSING_CAMERA, "--sam-weights", "random", "--box", "1,1,20,20", cwd=tmp_path)
    assert quiet.returncode == 1
    assert quiet.stderr.strip().splitlines() == [f"Error: cannot open webcam {MISSING_CAMERA}: no camera at that "
                                                 "index, or it is in use"], quiet.stderr
    verbose = autotrack("-v", "track", MISSING_CAMERA, "--sam-weights", "random", "--box", "1,1,20,20", cwd=tmp_path)
    assert verbose.returncode == 1 and "[ WARN" in verbose.stderr, verbose.stderr
