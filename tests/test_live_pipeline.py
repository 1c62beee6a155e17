"""Live streams through the Pipeline and `autotrack track`, against the real RTSP test server (tests/rtsp_server.py).

The CLI runs the manual pipeline (`--box`, random SAM2 weights at imgsz 64: no detector, no download). Its frames
are gray with stripes that spell a counter, so the Python API tests can tell which stream frame each result is.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fakes import ScriptedEngine, moving_box
from live_stream import OPTIONS, counter_of, free_port
from pycocotools.coco import COCO

from autotrack.cli import main
from autotrack.cli.track import progress_fields
from autotrack.pipeline import Pipeline, RunSummary
from autotrack.prompters.manual import ManualPrompts
from autotrack.sinks import DisplayError, FrameAnnotator, WindowSink
from autotrack.sources import LiveSource
from autotrack.types import FrameResult

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[1]
BOX = (100, 60, 220, 180)


def track_args(url: str, out: Path, *extra: str) -> list[str]:
    """`autotrack track` on a stream with the manual pipeline, random weights, MOT and JSON outputs."""
    return ["track", url, "--box", ",".join(map(str, BOX)), "--sam-weights", "random", "--imgsz", "64",
            "--device", "cpu", "--mot", str(out / "out.txt"), "--json", str(out / "out.json"), *extra]


def mot_rows(path: Path) -> list[list[float]]:
    """The complete lines of a MOT file (a line being written may lack its newline yet)."""
    text = path.read_text() if path.exists() else ""
    return [[float(v) for v in line.split(",")] for line in text.splitlines(keepends=True) if line.endswith("\n")]


def wait_for_rows(path: Path, count: int, timeout: float = 60.0) -> list[list[float]]:
    """Follow a MOT file until it has `count` rows, as another process watching a run would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = mot_rows(path)
        if len(rows) >= count:
            return rows
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {count} rows in {timeout:g} s")


def check_outputs(out: Path, frames: int) -> np.ndarray:
    """MOT and JSON are complete and valid for `frames` frames; returns the MOT rows."""
    coco = COCO(str(out / "out.json"))
    assert len(coco.imgs) == frames
    rows = np.array(mot_rows(out / "out.txt"))
    assert rows.shape == (frames, 10)  # one object, visible on every frame
    assert np.all(np.diff(rows[:, 0]) > 0)  # frame numbers only increase, across a reconnect too
    assert sorted(img["frame_index"] + 1 for img in coco.imgs.values()) == rows[:, 0].tolist()
    return rows


def summary_value(output: str, name: str) -> str:
    match = re.search(rf"^\s*{name}\s+(\S+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


class SlowEngine(ScriptedEngine):
    """A scripted engine that takes `delay` seconds per frame for its first `slow_frames` frames."""

    def __init__(self, delay: float, slow_frames: int = 10**9) -> None:
        super().__init__({"object": moving_box(BOX, 10**4)})
        self.delay, self.slow_frames = delay, slow_frames

    def step(self, frame, prompts=None):
        if self.frame_index < self.slow_frames:
            time.sleep(self.delay)
        return super().step(frame, prompts)


def run_live(url: str, engine: SlowEngine, frames: int, **options) -> tuple[list[FrameResult], list[int], Pipeline]:
    """Run the Python pipeline on a stream; returns the results, the queue length seen after each frame, and it."""
    source = LiveSource(url, **options, **OPTIONS)
    pipeline = Pipeline(source, None, engine, prompts=ManualPrompts.from_options([",".join(map(str, BOX))]),
                        max_frames=frames)
    results, queued = [], []
    for result in pipeline.stream():
        results.append(result)
        queued.append(source.stats.queued)
    return results, queued, pipeline


def test_latest_policy_keeps_a_slow_tracker_on_the_newest_frames_and_counts_drops(server):
    results, queued, pipeline = run_live(server.url, SlowEngine(delay=0.2), 12, policy="latest")
    indices = np.array([r.frame_index for r in results])
    gaps = np.diff(indices)
    assert np.all(gaps >= 1) and gaps.mean() > 2, indices  # skips ahead instead of falling behind
    assert max(queued) <= 1  # never more than the newest frame waits
    summary = pipeline.summary
    assert summary.frames == 12 and summary.input_fps > 0
    assert summary.dropped >= int(np.sum(gaps - 1)) > 0  # every skipped frame is counted
    # each result holds the stream frame its index names, and object 1 is followed throughout
    assert len({counter_of(r.frame) - r.frame_index for r in results}) == 1
    assert all(r.detections.tracker_id.tolist() == [1] for r in results)


def test_all_frames_policy_skips_nothing_and_keeps_the_queue_bounded(server):
    results, queued, pipeline = run_live(server.url, SlowEngine(delay=0.1, slow_frames=10), 40, policy="all",
                                         buffer_size=4)
    assert [r.frame_index for r in results] == list(range(40))
    assert np.all(np.diff([counter_of(r.frame) for r in results]) == 1)  # consecutive stream frames
    assert pipeline.summary.dropped == 0
    assert max(queued) == 4  # the slow start filled the queue, and it never grew past its size


def test_cli_reconnects_and_keeps_the_same_object_id(server, tmp_path, one_torch_thread, caplog):
    restarted_after = []  # MOT rows written before the stream came back

    def drop_the_stream():
        wait_for_rows(tmp_path / "out.txt", 4)
        server.stop()
        time.sleep(2.0)  # down for a while: the CLI sees the loss and retries
        restarted_after.append(len(mot_rows(tmp_path / "out.txt")))
        server.start()

    gap = threading.Thread(target=drop_the_stream)
    gap.start()
    result = CliRunner().invoke(main, track_args(server.url, tmp_path, "--max-frames", "20", "--reconnect", "10"))
    gap.join()
    assert result.exit_code == 0, result.output
    assert summary_value(result.output, "reconnects") == "1"
    # a warning: Python shows it on stderr when nothing configured logging (pytest's log capture holds it here)
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "reconnected" in r.getMessage()]
    assert len(said) == 1 and re.search(r"reconnected after \d+\.\d s \(\d+ attempt\(s\)\)", said[0]), said
    assert summary_value(result.output, "frames") == "20"
    rows = check_outputs(tmp_path, 20)
    assert restarted_after[0] <= 10  # so at least 10 frames were tracked after the reconnect...
    assert set(rows[:, 1]) == {1}  # ...and object 1 stayed object 1: tracker state and IDs went on


def test_cli_ends_with_one_clear_error_and_valid_outputs_when_the_stream_never_returns(server, tmp_path,
                                                                                      one_torch_thread):
    def stop_for_good():
        wait_for_rows(tmp_path / "out.txt", 3)
        server.stop()

    stopper = threading.Thread(target=stop_for_good)
    stopper.start()
    result = CliRunner().invoke(main, track_args(server.url, tmp_path, "--reconnect", "2"))
    stopper.join()
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert re.fullmatch(rf"Error: lost stream {re.escape(server.url)} after frame \d+ and could not reconnect "
                        r"\(2 attempt\(s\) over \d+ s\)", errors[0]), errors[0]
    frames = int(summary_value(result.output, "frames"))
    assert frames >= 3 and summary_value(result.output, "reconnects") == "0"
    check_outputs(tmp_path, frames)


@pytest.mark.parametrize("signum, code, message", [(signal.SIGTERM, 143, "stopped by SIGTERM"),
                                                    (signal.SIGINT, 130, "stopped by Ctrl-C")])
def test_a_signal_stops_a_running_track_promptly_with_valid_outputs(server, tmp_path, signum, code, message):
    # PYTHONFAULTHANDLER: a run that does not stop is made to print where each of its threads is
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    command = [sys.executable, "-c", "from autotrack.cli import main; main()", *track_args(server.url, tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        followed = wait_for_rows(tmp_path / "out.txt", 5)  # another process follows the outputs during the run
        assert json.loads((tmp_path / "out.json").read_text())["images"]
        process.send_signal(signum)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            stacks = process.communicate(timeout=30)[1][-4000:]
            pytest.fail(f"the run did not stop within 30 s of the signal:\n{stacks}")
    finally:
        process.kill()
    assert process.returncode == code, stderr
    assert message in stderr and "Traceback" not in stderr, stderr
    frames = int(summary_value(stdout, "frames"))
    rows = check_outputs(tmp_path, frames)
    assert rows[: len(followed)].tolist() == followed  # what was followed during the run is the file's start


def test_unreachable_or_malformed_urls_fail_fast_with_one_line(one_torch_thread, tmp_path):
    refused = f"rtsp://127.0.0.1:{free_port()}/test"
    for url in (refused, "rtsp://"):
        result = CliRunner().invoke(main, track_args(url, tmp_path))
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: cannot open stream {url} within 10 s")
        assert result.output.count("\n") == 1, result.output


def test_live_options_are_checked(tmp_path, monkeypatch):
    video = str(tmp_path / "clip.mp4")
    result = CliRunner().invoke(main, ["track", video, "--all-frames"])
    assert result.exit_code == 2 and "apply to webcams and streams only" in result.output
    result = CliRunner().invoke(main, ["track", "rtsp://127.0.0.1/x", "--reconnect", "often"])
    assert result.exit_code == 2 and "expected a number of attempts or 'forever'" in result.output
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = CliRunner().invoke(main, ["track", "0", "--show"])
    assert result.exit_code == 1
    assert result.output == "Error: --show needs a display: DISPLAY and WAYLAND_DISPLAY are not set (no screen here?)\n"


def test_window_sink_shows_the_annotated_frames(monkeypatch):
    shown, destroyed = [], []
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr("cv2.namedWindow", lambda title, flags: None)
    monkeypatch.setattr("cv2.imshow", lambda title, image: shown.append((title, image)))
    monkeypatch.setattr("cv2.waitKey", lambda delay: -1)
    monkeypatch.setattr("cv2.destroyWindow", destroyed.append)
    engine = ScriptedEngine({"object": moving_box(BOX, 3)})
    frames = [np.full((240, 320, 3), 128, np.uint8) for _ in range(3)]
    with WindowSink("cam") as sink:
        pipeline = Pipeline(frames, None, engine, sinks=[sink], prompts=ManualPrompts.from_options(["100,60,220,180"]))
        results = list(pipeline.stream())
    annotate = FrameAnnotator()
    assert [title for title, _ in shown] == ["cam"] * 3 and destroyed == ["cam"]
    for (_, image), result in zip(shown, results):
        assert np.array_equal(image, annotate(result.frame, result.detections))
        assert not np.array_equal(image, result.frame)  # the object is drawn


def test_window_sink_refuses_to_start_without_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DisplayError, match="needs a display"):
        WindowSink()


def test_progress_shows_input_fps_drops_and_reconnects_for_live_sources():
    summary = RunSummary(frames=10, seconds=2.0, dropped=40, reconnects=1, input_fps=25.0)
    assert progress_fields(summary, 2, live=True) == {"fps": "5.0", "objects": "2", "input_fps": "25.0",
                                                      "dropped": "40", "reconnects": "1"}
    assert progress_fields(summary, 2, live=False) == {"fps": "5.0", "objects": "2"}
