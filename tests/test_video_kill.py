"""A run killed with SIGKILL leaves an annotated MP4 that plays up to the last frame it wrote.

`autotrack track` runs as a user runs it (a subprocess: the manual pipeline, random SAM2 weights at imgsz 64, no
download) on a synthetic clip and is killed after some frames. Its ffmpeg child then sees the end of its input and
finishes the fragmented MP4, which OpenCV and ffprobe must read to at least the last frame of the MOT file (the
video sink writes each frame before the MOT sink does).
"""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from autotrack.eval.synthetic import make_scenario, render_scenario
from autotrack.sinks.video import open_video_writer

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[1]
N_FRAMES = 300  # far more than the run gets through before it is killed


def wait_until(condition: Callable[[], bool], what: str, limit_s: float = 240.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def last_mot_frame(path: Path) -> int:
    """The last frame number in a MOT file being written (0 when it has none yet); complete lines only."""
    if not path.exists():
        return 0
    lines = path.read_text().split("\n")[:-1]
    return int(lines[-1].split(",")[0]) if lines else 0


def ffmpeg_children(pid: int) -> list[int]:
    """The ffmpeg processes started by process `pid` (from Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if int(fields.split()[1]) == pid and name.endswith("(ffmpeg"):
            found.append(int(stat.parent.name))
    return found


def has_ended(pid: int) -> bool:
    """True when process `pid` is gone or a zombie (ended, not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def count_frames(path: Path) -> tuple[int, int]:
    """Frames decoded by OpenCV and counted by ffprobe (which fails on a file without its index)."""
    capture = cv2.VideoCapture(str(path))
    decoded = 0
    while capture.read()[0]:
        decoded += 1
    capture.release()
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                            "stream=nb_read_frames", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    return decoded, int(probe.stdout)


def test_sigkill_leaves_a_playable_mp4_up_to_the_last_frame_written(tmp_path):
    assert shutil.which("ffmpeg") and shutil.which("ffprobe"), "ffmpeg is a CI dependency (.ci/apt-packages.txt)"
    scenario = make_scenario("mixed", n_frames=N_FRAMES, size=(320, 240))
    clip = tmp_path / "clip.mp4"
    writer = open_video_writer(clip, scenario.fps, (scenario.width, scenario.height))
    for frame, _ in render_scenario(scenario):
        writer.write(frame)
    writer.release()
    box = ",".join(str(v) for v in scenario.objects[0].boxes[0])
    video, mot = tmp_path / "x.mp4", tmp_path / "x.txt"

    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "autotrack.cli", "track", str(clip), "-p", "manual-sam2", "--box", box,
               "--sam-weights", "random", "--imgsz", "64", "--device", "cpu", "--output", str(video), "--mot", str(mot)]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_until(lambda: last_mot_frame(mot) >= 5 or run.poll() is not None, "5 frames in the MOT file")
        ffmpeg = ffmpeg_children(run.pid)
        run.kill()  # SIGKILL: no handler runs, no sink is closed
        stderr = run.communicate(timeout=30)[1]
    finally:
        run.kill()
    assert run.returncode == -9, f"the run ended on its own (exit code {run.returncode}): {stderr}"
    assert len(ffmpeg) == 1, ffmpeg
    wait_until(lambda: has_ended(ffmpeg[0]), "ffmpeg to finish the file")

    flushed = last_mot_frame(mot)
    assert 5 <= flushed < N_FRAMES
    decoded, probed = count_frames(video)
    assert decoded >= flushed and probed >= flushed, (decoded, probed, flushed)
