"""`autotrack serve --ray`: streams on Ray actors across a local cluster (a head and one more node on this machine),
one console in front listing and prompting them all; a killed actor comes back with its streams."""

from __future__ import annotations

import json
import os
import signal
import sys

import cv2
import httpx
import pytest
from click.testing import CliRunner
from serve_helpers import running_console, wait_for
from websockets.sync.client import connect

import autotrack.pipeline.build as build
from autotrack.cli import main
from autotrack.eval.synthetic import make_scenario, render_scenario
from autotrack.serve import RunOptions
from autotrack.serve.cameras import Camera
from autotrack.sinks.video import open_video_writer

pytestmark = pytest.mark.timeout(600)

SMALL = {"sam.weights": "random", "sam.imgsz": 64, "device": "cpu"}
OUTPUTS = ["mot", "json", "video"]


@pytest.fixture(scope="module")
def cluster():
    """A Ray cluster of two nodes of one CPU each (room for one actor each) on this machine, for the whole module
    (starting one is slow)."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_serve_ray_without_ray_names_the_extra_before_any_model_loads(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as when it is not installed
    monkeypatch.setattr(build, "load_models", lambda *args: pytest.fail("a model was loaded"))
    result = CliRunner().invoke(main, ["serve", "video.mp4", "--ray", "auto"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert 'pip install "autotrack[ray]"' in result.output
    alone = CliRunner().invoke(main, ["serve", "video.mp4", "--gpus-per-actor", "1"])
    assert alone.exit_code == 2 and "--gpus-per-actor needs --ray" in alone.output


def write_clip(path, frames: int):
    """A 160x120 synthetic video of `frames` frames at 30 fps."""
    scenario = make_scenario("mixed", n_frames=frames, size=(160, 120), seed=3)
    writer = open_video_writer(path, scenario.fps, (160, 120))
    for image, _ in render_scenario(scenario):
        writer.write(image)
    writer.release()
    return path


def kinds(http: httpx.Client, source: str, kind: str) -> list[dict]:
    return [event for event in http.get(f"/api/sources/{source}/events").json() if event["kind"] == kind]


def readable(run, video: bool = True) -> bool:
    """Whether a run's MOT (whole rows of 10 numbers), COCO JSON and video (at least one frame) files all read."""
    rows = [[float(value) for value in line.split(",")] for line in (run / "tracks.txt").read_text().splitlines()]
    assert all(len(row) == 10 for row in rows)
    json.loads((run / "tracks.json").read_text())
    if not video:
        return True
    capture = cv2.VideoCapture(str(run / "tracks.mp4"))
    ok, _ = capture.read()
    capture.release()
    return ok


def test_four_streams_on_two_actors_one_console_and_a_killed_actor_comes_back(cluster, server, tmp_path,
                                                                               one_torch_thread, monkeypatch):
    from autotrack.serve.remote import RayConsole

    clip = write_clip(tmp_path / "clip.mp4", 1800)  # a minute: it runs until the end of the test
    detector = tmp_path / "detector.yaml"
    detector.write_text("detector: {weights: random, imgsz: 64}\n")
    monkeypatch.setenv("AUTOTRACK_CAMERA_PORT", str(server.port))  # read by the actor, where a's url opens
    # a and b on the manual pipeline, c and d with a detector: one actor per model set; a and c live streams
    cameras = [Camera("a", "rtsp://127.0.0.1:${AUTOTRACK_CAMERA_PORT}/test", fps=5, outputs=OUTPUTS), Camera("b", str(clip), fps=5, outputs=OUTPUTS),
               Camera("c", server.url, pipeline=str(detector), fps=5, outputs=OUTPUTS),
               Camera("d", str(clip), pipeline=str(detector), fps=5, outputs=OUTPUTS)]
    refused = CliRunner().invoke(main, ["serve", str(clip), "--ray", "auto", "--gpus-per-actor", "1", "-p",
                                        "manual-sam2", "--sam-weights", "random", "--imgsz", "64", "--device", "cpu"])
    assert refused.exit_code == 1 and refused.output.strip().splitlines() == [  # rather than waiting for ever
        "Error: each actor asks for 1 GPU(s) but no node of the Ray cluster has more than 0"]
    options = RunOptions(output_dir=tmp_path / "out", pipeline="manual-sam2", overrides=SMALL)
    console = RayConsole(options, streams_per_actor=2)
    with running_console(tmp_path / "out", console=console, sources=tuple(cameras)) as base, \
            httpx.Client(base_url=base, timeout=60) as http:

        def listing() -> dict[str, dict]:
            return {source["id"]: source for source in http.get("/api/sources").json()}

        def running(*names: str) -> bool:
            sources = listing()
            return all(sources[name]["state"] == "running" and sources[name]["frame"] is not None for name in names)

        wait_for(lambda: running(*"abcd"), 240, "four streams running")
        first, second = console.links
        assert (set(first.streams), set(second.streams)) == ({"a", "b"}, {"c", "d"})
        nodes = {name: source["node"] for name, source in listing().items()}
        assert nodes["a"] == nodes["b"] != nodes["c"] == nodes["d"]  # two actors, two processes
        with connect("ws://" + base.removeprefix("http://") + "/api/sources/c/stream") as ws:  # as a page follows it
            hello = json.loads(ws.recv(timeout=30))
            assert hello["type"] == "hello" and hello["node"] == nodes["c"] and hello["events"]
            while (message := json.loads(ws.recv(timeout=30)))["type"] != "frame":
                pass
            assert message["source"] == "c" and ws.recv(timeout=30)[:2] == b"\xff\xd8"  # and its JPEG

        # prompts, removals and class changes reach their stream, on either actor, and no other
        born = {name: http.post(f"/api/sources/{name}/objects", json={"box": [20, 20, 100, 100]}).json()["id"]
                for name in "ac"}
        for name, object_id in born.items():
            wait_for(lambda: [e for e in kinds(http, name, "born") if e["id"] == object_id], 60, f"born in {name}")
        assert http.delete(f"/api/sources/a/objects/{born['a']}").status_code == 202
        wait_for(lambda: [e for e in kinds(http, "a", "removed") if e["id"] == born["a"]], 60, "removed in a")
        assert http.put("/api/sources/c/classes", json={"classes": ["car"]}).status_code == 200
        wait_for(lambda: [e for e in kinds(http, "c", "classes") if e["reason"] == "car"], 60, "classes in c")
        assert not any(kinds(http, name, kind) for name in "bd" for kind in ("born", "removed", "classes"))
        far = http.post("/api/sources/b/objects", json={"box": [5000, 5000, 5100, 5100]})
        assert far.status_code == 422 and "outside" in far.json()["detail"]  # the actor's error, as it was
        merged = http.post("/api/sources/b/merge", json={"keep": 1, "merge": 2})  # re-identification is off
        assert merged.status_code == 409 and "re-identification is off" in merged.json()["detail"]
        assert http.get("/api/sources/b/gallery").json() == []
        assert http.get("/api/sources/b/gallery/1.jpg").status_code == 404  # NotFound from the actor, as it was

        pid = first.place["pid"]
        os.kill(pid, signal.SIGKILL)  # a and b lose their actor: Ray restarts it, the console adds them again
        wait_for(lambda: all(kinds(http, name, "restarted") for name in "ab"), 120, "the restart")
        wait_for(lambda: running("a", "b") and listing()["a"]["run"] == "run-2", 120, "a and b running again")
        assert first.place["pid"] != pid and sorted(listing()) == ["a", "b", "c", "d"]
        assert [e["kind"] for e in kinds(http, "a", "actor-lost")] == ["actor-lost"]
        assert not any(kinds(http, name, kind) for name in "cd" for kind in ("actor-lost", "restarted"))
        assert running("c", "d") and listing()["c"]["run"] == "run-1"
        object_id = http.post("/api/sources/a/objects", json={"box": [20, 20, 100, 100]}).json()["id"]
        assert object_id == 1  # the new run's IDs start again
        for name in "ab":  # the lost runs' files read: MOT and JSON valid after every frame, ffmpeg ended the video
            wait_for(lambda: readable(tmp_path / "out" / name / "run-1"), 60, f"{name}'s first run readable")
        assert (tmp_path / "out" / "a" / "run-1" / "tracks.txt").read_text()  # the prompted object's rows

        # a node dies: its actor moves to the one node with room, a new one, and its streams with it
        (node,) = cluster.worker_nodes
        spare = cluster.add_node(num_cpus=1)
        (moved,) = [link for link in console.links if link.place["node"] == node.node_id]
        before = {name: len(kinds(http, name, "restarted")) for name in moved.streams}
        cluster.remove_node(node)
        wait_for(lambda: all(len(kinds(http, name, "restarted")) == count + 1 for name, count in before.items()),
                 120, "the restart on another node")
        wait_for(lambda: running(*before), 120, "the moved streams running again")
        assert moved.place["node"] == spare.node_id and sorted(listing()) == ["a", "b", "c", "d"]
        assert spare.node_id[:8] in listing()[next(iter(before))]["node"]

        # sources removed and added from the API leave and join the actors
        assert http.delete("/api/sources/d").status_code == 204 and set(second.streams) == {"c"}
        added = http.post("/api/sources", json={"source": str(clip), "name": "e", "pipeline": str(detector)})
        assert added.status_code == 201 and set(second.streams) == {"c", "e"} and len(console.links) == 2
        wait_for(lambda: running("e"), 120, "the added stream")
        assert http.post("/api/sources/e/stop").status_code == 200
        wait_for(lambda: listing()["e"]["state"] == "stopped", 60, "the stop")
    for name in "abcde":  # every run's files read: the lost ones' and those the console stopped at the end
        runs = sorted((tmp_path / "out" / name).glob("run-*"))
        assert len(runs) == 1 + (name in "ab") + (name in before)
        assert all(readable(run, video=name != "e") for run in runs)  # e, added from the API: MOT and JSON only
