"""`autotrack batch`: many inputs through the real pipeline (random-weight SAM2), on Ray and on the process pool.

Four tiny clips: three synthetic videos and one of garbage bytes. The good ones must give valid outputs, the bad one
must be reported failed after its retries without stopping the others, a re-run must skip what is complete, and
Ray and the process pool must write the same tracks.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from autotrack import batch
from autotrack.cli import main
from autotrack.eval.synthetic import make_scenario, render_scenario
from autotrack.prompters.manual import ManualPrompts
from autotrack.sinks.video import open_video_writer

GOOD = ("clip0", "clip1", "clip2")
MODEL = ["--sam-weights", "random", "--imgsz", "64", "--device", "cpu"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, Path]:
    """A folder of three 96x64, 8-frame synthetic videos and one corrupt .mp4, and a prompts file for them."""
    root = tmp_path_factory.mktemp("clips")
    folder = root / "videos"
    folder.mkdir()
    for seed, name in enumerate(GOOD):
        scenario = make_scenario("mixed", n_frames=8, size=(96, 64), seed=seed)
        writer = open_video_writer(folder / f"{name}.mp4", scenario.fps, (96, 64))
        for frame, _ in render_scenario(scenario):
            writer.write(frame)
        writer.release()
    (folder / "corrupt.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    prompts = root / "prompts.json"
    prompts.write_text(json.dumps({"objects": [{"id": 1, "frame": 0, "box": [10, 10, 50, 40]}]}))
    return folder, prompts


@pytest.fixture(scope="module")
def ray_runtime():
    """One local Ray runtime with 2 CPUs for the whole module; `--ray local` uses it instead of starting another."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def run_cli(*args: str):
    return CliRunner().invoke(main, ["batch", *map(str, args)])


@pytest.fixture(scope="module")
def ray_run(clips, ray_runtime, tmp_path_factory):
    """The batch on Ray, with the process pool made unusable so a silent fallback to it would fail."""
    folder, prompts = clips
    out = tmp_path_factory.mktemp("ray-out")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch.cf, "ProcessPoolExecutor", None)
        result = run_cli(folder, "-o", out, "-p", "manual-sam2", "--prompts", prompts, *MODEL,
                         "--ray", "local", "--retries", "1")
    return out, result


def read_mot(path: Path) -> np.ndarray:
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    assert rows.shape[1] == 10
    return rows


def test_ray_batch_reports_each_input_and_fails_on_the_corrupt_one(ray_run):
    out, result = ray_run
    assert result.exit_code == 1, result.output
    summary = {entry["name"]: entry for entry in json.loads((out / "summary.json").read_text())}
    assert sorted(summary) == ["clip0", "clip1", "clip2", "corrupt"]
    for name in GOOD:
        entry = summary[name]
        assert (entry["status"], entry["frames"], entry["objects"], entry["error"]) == ("ok", 8, 1, None)
        assert entry["fps"] > 0
        rows = read_mot(out / name / "tracks.txt")
        assert len(rows) > 0 and set(rows[:, 0]) <= set(range(1, 9)) and set(rows[:, 1]) == {1}
        coco = json.loads((out / name / "tracks.json").read_text())
        assert len(coco["images"]) == 8 and len(coco["annotations"]) == len(rows)
        assert json.loads((out / name / "summary.json").read_text())["status"] == "ok"
        assert not (out / name / "tracked.mp4").exists()  # only with --save-video
    corrupt = summary["corrupt"]
    assert corrupt["status"] == "failed" and corrupt["attempts"] == 2
    assert corrupt["error"].startswith("failed after 2 attempt(s): cannot decode")
    assert not (out / "corrupt" / "summary.json").exists()
    assert "3 ok, 0 skipped, 1 failed" in result.output


def test_ray_rerun_skips_the_complete_inputs(ray_run, clips):
    out, _ = ray_run
    folder, prompts = clips
    before = {name: (out / name / "tracks.txt").stat().st_mtime_ns for name in GOOD}
    result = run_cli(folder, "-o", out, "-p", "manual-sam2", "--prompts", prompts, *MODEL, "--ray", "local",
                     "--retries", "0")
    assert result.exit_code == 1, result.output
    statuses = {entry["name"]: entry["status"] for entry in json.loads((out / "summary.json").read_text())}
    assert statuses == {"clip0": "skipped", "clip1": "skipped", "clip2": "skipped", "corrupt": "failed"}
    assert {name: (out / name / "tracks.txt").stat().st_mtime_ns for name in GOOD} == before


def test_ray_refuses_tasks_no_node_can_hold(ray_run, clips, tmp_path):
    folder, prompts = clips
    result = run_cli(folder, "-o", tmp_path, "--prompts", prompts, *MODEL, "--ray", "local", "--gpus-per-task", "1")
    assert result.exit_code == 1
    assert "asks for 1 GPU(s) but no node of the Ray cluster has more than 0" in result.output


def test_process_pool_writes_the_same_tracks_as_ray(ray_run, clips, tmp_path):
    ray_out, _ = ray_run
    folder, prompts = clips
    results = batch.run([str(folder)], "manual-sam2", tmp_path, {"sam.weights": "random", "sam.imgsz": 64,
                        "device": "cpu"}, ManualPrompts.from_json(prompts), workers=2, retries=0)
    assert [(r.name, r.status, r.attempts) for r in results] == [
        ("clip0", "ok", 1), ("clip1", "ok", 1), ("clip2", "ok", 1), ("corrupt", "failed", 1)]
    for name in GOOD:
        assert (tmp_path / name / "tracks.txt").read_text() == (ray_out / name / "tracks.txt").read_text()


def test_collect_inputs_expands_folders_globs_and_lists(tmp_path):
    sequence = tmp_path / "seq"
    sequence.mkdir()
    (sequence / "000001.jpg").write_bytes(b"")
    (sequence / "notes.mp4").write_bytes(b"")  # a folder with images is one sequence, whatever else it holds
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("b10.mp4", "b2.mkv", "readme.md"):
        (videos / name).write_bytes(b"")
    (tmp_path / "list.txt").write_text("# inputs\n\nseq\nvideos/b2.mkv\nrtsp://cam/1\n")
    inputs = batch.collect_inputs([str(videos), str(tmp_path / "list.txt"), str(tmp_path / "vid*")])
    assert inputs == [str(videos / "b2.mkv"), str(videos / "b10.mp4"), str(sequence), "rtsp://cam/1"]
    with pytest.raises(ValueError, match="no files match"):
        batch.collect_inputs([str(tmp_path / "none*.mp4")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither images nor videos"):
        batch.collect_inputs([str(tmp_path / "empty")])


def test_output_names_are_unique_and_stable():
    inputs = ["a/video.mp4", "b/video.mp4", "c/clip.mp4", "x/a/seq.mp4", "y/a/seq.mp4", "rtsp://cam:554/live"]
    names = batch.output_names(inputs)
    assert names["a/video.mp4"] == "a-video" and names["b/video.mp4"] == "b-video"
    assert names["c/clip.mp4"] == "clip" and names["rtsp://cam:554/live"] == "cam_554_live"
    assert names["x/a/seq.mp4"].startswith("a-seq-") and names["x/a/seq.mp4"] != names["y/a/seq.mp4"]
    assert len(set(names.values())) == len(inputs) and batch.output_names(inputs) == names


def test_bad_options_give_one_line_errors(tmp_path):
    result = run_cli(tmp_path, "-o", tmp_path / "out", "-p", "nope")
    assert result.exit_code != 0 and "unknown pipeline 'nope'" in result.output
    result = run_cli(tmp_path / "x.mp4", "-o", tmp_path / "out", "--gpus-per-task", "1")
    assert result.exit_code == 2 and "--gpus-per-task needs --ray" in result.output
    assert "Traceback" not in result.output


def test_outputs_in_an_input_image_folder_are_refused_before_anything_is_written(tmp_path):
    from autotrack.paths import PathClash

    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "00000.jpg"), np.zeros((8, 8, 3), np.uint8))
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(PathClash, match=r"output .*frames/tracks.txt lies inside the input .*frames"):
        batch.run([str(frames)], "manual-sam2", tmp_path, {"sam.weights": "random"})  # results would go to frames/
    assert sorted(tmp_path.rglob("*")) == before
