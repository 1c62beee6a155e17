"""The one-line advice for SAM2 at a large input size on a CPU: given there, and only there."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from autotrack.advice import faster_pipeline_note
from autotrack.cli import main
from autotrack.config import load_config


@pytest.mark.parametrize("pipeline, overrides, device, advised", [
    ("yolo-sam2", {}, "cpu", True),
    ("manual-sam2", {"sam.model": "sam2.1_b"}, "cpu", True),
    ("yolo-sam2", {}, "cuda", False),
    ("yolo-sam2", {}, "mps", False),
    ("fast-cpu", {}, "cpu", False),
    ("edge-cpu", {}, "cpu", False),
])
def test_note_only_for_sam2_at_1024_on_a_cpu(pipeline, overrides, device, advised):
    note = faster_pipeline_note(load_config(pipeline, overrides), device)
    assert (note is not None) == advised
    if advised:
        assert "-p edge-cpu" in note and "-p fast-cpu" in note and "\n" not in note


def test_track_prints_the_note_once_before_the_run(data_dir):
    result = CliRunner().invoke(main, ["track", str(data_dir / "videos" / "bedroom.mp4"), "-p", "manual-sam2",
                                       "--sam-weights", "random", "--device", "cpu", "--box", "290,110,480,420",
                                       "--max-frames", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("-p edge-cpu") == 1
