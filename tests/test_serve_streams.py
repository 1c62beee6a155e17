"""Many streams in one console process: one copy of each model set, compute threads shared fairly."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from fakes import FunctionPrompter, ScriptedEngine
from serve_helpers import wait_for

from autotrack.config import load_config
from autotrack.eval.synthetic import make_scenario, write_scenario
from autotrack.pipeline import Models, new_session
from autotrack.serve import Console, RunOptions
from autotrack.serve.scheduler import Lane, Scheduler
from autotrack.sources import Frame
from autotrack.types import Prompt

pytestmark = pytest.mark.timeout(120)

SMALL = {"sam.weights": "random", "sam.imgsz": 64, "device": "cpu"}
DETECTOR = {"pipeline": "yolo-sam2", "overrides": {"detector.weights": "random", "detector.imgsz": 64,
                                                   "sam.weights": "random", "sam.imgsz": 64, "device": "cpu"}}


def frame(index: int) -> Frame:
    return Frame(index, index / 30, np.zeros((4, 4, 3), np.uint8))


def test_the_compute_thread_serves_streams_in_turn_and_a_silent_or_failing_one_stalls_none():
    scheduler = Scheduler()
    order: list[str] = []
    finished = threading.Event()

    def busy(name: str):  # a stream that always has a new frame: it hands over the next as it processes one
        def process(item: Frame) -> None:
            order.append(name)
            if name == "bad":
                raise RuntimeError("a frame that fails")
            if len(order) >= 30:
                finished.set()
            else:
                scheduler.put(lanes[name], frame(item.index + 1))
        return process

    lanes = {name: Lane(name, busy(name)) for name in ("a", "b", "bad")}
    silent = Lane("silent", lambda item: order.append("silent"))  # a dead camera: no frame ever comes
    for lane in (*lanes.values(), silent):
        scheduler.add(lane)
    for lane in lanes.values():
        scheduler.put(lane, frame(0))
    assert finished.wait(30)
    scheduler.close()
    assert order[:3] == ["a", "b", "bad"] and order.count("bad") == 1 and "silent" not in order
    assert order[3:30] == (["a", "b"] * 14)[:27]  # in turn, neither starves
    assert abs(lanes["a"].processed - lanes["b"].processed) <= 1 and lanes["a"].latency >= 0


def test_while_one_of_four_streams_is_cut_the_other_three_share_the_compute_and_it_is_served_again_on_return():
    scheduler = Scheduler()
    order: list[str] = []
    cut = threading.Event()

    def camera(name: str):  # a stream that always has a new frame, until it is cut
        def process(item: Frame) -> None:
            order.append(name)
            if not (name == "cut" and cut.is_set()):
                scheduler.put(lanes[name], frame(item.index + 1))
        return process

    lanes = {name: Lane(name, camera(name)) for name in ("a", "b", "c", "cut")}
    for lane in lanes.values():
        scheduler.add(lane)
        scheduler.put(lane, frame(0))
    wait_for(lambda: order.count("cut") >= 5, 10, "the four streams")
    cut.set()
    mark = len(order)
    wait_for(lambda: len(order) >= mark + 64, 10, "the other streams' frames during the cut")
    served = len(order)
    during = order[max(i for i, name in enumerate(order[:served]) if name == "cut") + 1:served]
    assert len(during) >= 55 and set(during) == {"a", "b", "c"}  # the cut stream holds up no other
    assert max(map(during.count, "abc")) - min(map(during.count, "abc")) <= 1  # and they share in turn
    cut.clear()
    with scheduler._cond:  # no other lane's frame is taken between counting and the stream's return
        back = len(order)
        scheduler.put(lanes["cut"], frame(1000))  # the stream is back
    wait_for(lambda: "cut" in order[back:], 10, "the stream back")
    scheduler.close()
    assert order[back:].index("cut") <= 4  # its turn comes within one round (after the frame in progress)
    assert lanes["cut"].skipped == 0


def test_a_newer_frame_replaces_one_not_taken_and_removal_waits_for_the_frame_in_progress():
    scheduler = Scheduler()
    started, release, seen = threading.Event(), threading.Event(), []

    def process(item: Frame) -> None:
        seen.append(item.index)
        started.set()
        release.wait(10)

    lane = Lane("slow", process)
    scheduler.add(lane)
    scheduler.put(lane, frame(0))
    assert started.wait(10)
    scheduler.put(lane, frame(1))
    scheduler.put(lane, frame(2))  # replaces frame 1, which was not taken
    removed = threading.Thread(target=scheduler.remove, args=(lane, True))
    removed.start()
    removed.join(0.5)
    assert removed.is_alive()  # frame 0 is still being processed: the stream may not close its files yet
    release.set()
    removed.join(10)
    scheduler.close()
    assert seen == [0, 2] and lane.skipped == 1 and lane.processed == 2


def test_a_stream_with_a_target_rate_is_served_when_due_and_the_others_meanwhile():
    now = [100.0]
    scheduler = Scheduler(clock=lambda: now[0])
    seen: list[str] = []

    def always(name: str):  # a stream that always has a new frame
        def process(item: Frame) -> None:
            seen.append(name)
            scheduler.put(lanes[name], frame(item.index + 1))
        return process

    lanes = {"slow": Lane("slow", always("slow"), fps=2), "fast": Lane("fast", always("fast"))}
    for lane in lanes.values():
        scheduler.add(lane)
        scheduler.put(lane, frame(0))
    wait_for(lambda: seen.count("fast") >= 20, 10, "the fast stream's frames")
    assert seen.count("slow") == 1  # not due again before 0.5 s on the clock
    now[0] += 0.5
    wait_for(lambda: seen.count("slow") == 2, 10, "the slow stream's next frame")
    count = seen.count("fast")
    wait_for(lambda: seen.count("fast") >= count + 20, 10, "more of the fast stream")
    scheduler.close()
    assert seen.count("slow") == 2


def test_streams_on_the_same_models_share_their_weights_and_keep_their_own_sessions(tmp_path, one_torch_thread):
    clip = write_scenario(make_scenario("mixed", n_frames=300, size=(160, 120), seed=3), tmp_path / "clip").video
    console = Console(RunOptions(output_dir=tmp_path / "out", **DETECTOR))
    try:
        first, second = console.add(str(clip)), console.add(str(clip))
        wait_for(lambda: all(w.state == "running" and w.last_frame for w in (first, second)), 60, "both streams")
        one, two = first.pipeline, second.pipeline
        assert len(console.models) == 1
        assert [p.data_ptr() for p in one.tracker.parts.model.parameters()] == \
            [p.data_ptr() for p in two.tracker.parts.model.parameters()]
        assert [p.data_ptr() for p in one.prompter.model.model.parameters()] == \
            [p.data_ptr() for p in two.prompter.model.model.parameters()]
        assert one.tracker is not two.tracker and one.identity is not two.identity and one.prompter is not two.prompter
        first.set_classes(["car"])  # one stream's classes change; the other's stay
        wait_for(lambda: one.prompter.classes == [2], 30, "the new classes")
        assert two.prompter.classes is None
        object_id = first.add_prompt(Prompt(box=[40, 30, 90, 80]))  # a prompt reaches its own stream only
        wait_for(lambda: any(row["id"] == object_id for row in first.last_frame["objects"]), 60, "the object")
        assert not [e for e in second.events() if e["kind"] == "born"] and two.tracker.object_ids == []
        assert {first.id, second.id} == {"video", "video-2"}
        assert second.last_frame["stats"]["latency_ms"] >= 0
    finally:
        console.close()
    assert first.state == second.state == "stopped"


def test_one_of_four_streams_cut_holds_up_no_other_and_comes_back_with_its_ids(server, tmp_path, one_torch_thread):
    clip = write_scenario(make_scenario("mixed", n_frames=900, size=(160, 120), seed=3), tmp_path / "clip").video
    console = Console(RunOptions(output_dir=tmp_path / "out", pipeline="manual-sam2", overrides=SMALL))
    try:
        camera, *recordings = console.add(server.url), *(console.add(str(clip)) for _ in range(3))
        wait_for(lambda: all(w.last_frame for w in (camera, *recordings)), 60, "the four streams")
        object_id = camera.add_prompt(Prompt(box=[100, 60, 220, 180]))
        wait_for(lambda: any(row["id"] == object_id for row in camera.last_frame["objects"]), 60, "the object")
        server.stop()
        wait_for(lambda: camera.last_frame["stats"]["reconnects"] == 0 and camera_silent(camera), 30, "the cut")
        cut_at = [w.last_frame["stats"]["frames"] for w in recordings]
        wait_for(lambda: all(w.last_frame["stats"]["frames"] > n + 10 for w, n in zip(recordings, cut_at)), 60,
                 "each other stream's frames during the cut")
        server.start()
        wait_for(lambda: camera.last_frame["stats"]["reconnects"] == 1, 60, "the reconnect")
        wait_for(lambda: any(row["id"] == object_id for row in camera.last_frame["objects"]), 30, "the same ID")
        assert [e["kind"] for e in camera.events()].count("reconnected") == 1
    finally:
        console.close()


def camera_silent(worker, seconds: float = 1.0) -> bool:
    """Whether no new frame of the worker came for `seconds`."""
    before = worker.last_frame["frame"]
    time.sleep(seconds)
    return worker.last_frame["frame"] == before


def test_two_compute_threads_run_two_streams_at_once_never_one_stream_twice_and_share_the_cores():
    cores = torch.get_num_threads()
    scheduler = Scheduler(workers=2, cores=2)
    both = threading.Barrier(2, timeout=10)  # passed only by two frames in progress at the same time
    running: dict[str, int] = {"a": 0, "b": 0}
    most = {"a": 0, "b": 0}
    threads_seen: list[int] = []
    lock = threading.Lock()

    def camera(name: str):
        def process(item: Frame) -> None:
            with lock:
                running[name] += 1
                most[name] = max(most[name], running[name])
                threads_seen.append(torch.get_num_threads())
            if item.index == 0:
                both.wait()  # the first frames of both streams run side by side
            time.sleep(0.002)
            with lock:
                running[name] -= 1
            if item.index < 30:
                scheduler.put(lanes[name], frame(item.index + 1))
                scheduler.put(lanes[name], frame(item.index + 1))  # a frame waits while one is in progress
        return process

    try:
        scheduler.add(Lane("solo", lambda item: None))
        assert torch.get_num_threads() == 2  # one stream: one compute thread with every core
        lanes = {name: Lane(name, camera(name)) for name in ("a", "b")}
        for lane in lanes.values():
            scheduler.add(lane)
        assert scheduler.threads == 2 and torch.get_num_threads() == 1  # two threads, one core each
        for lane in lanes.values():
            scheduler.put(lane, frame(0))
        wait_for(lambda: lanes["a"].processed == lanes["b"].processed == 31, 10, "both streams' frames")
        assert most == {"a": 1, "b": 1}  # a stream's frames one at a time
        assert set(threads_seen) == {1}
        for name in ("a", "b"):
            scheduler.remove(lanes[name])
        assert torch.get_num_threads() == 2
    finally:
        scheduler.close()
        torch.set_num_threads(cores)


def test_sessions_on_one_loaded_detector_run_it_one_frame_at_a_time():
    """Streams on several compute threads share a detector (ultralytics' predictors are not thread-safe): the
    sessions of one `Models` take turns with it."""
    inside, most = [0], [0]

    def detect(image, index):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.005)
        inside[0] -= 1
        return None

    class Engines:  # what `new_session` asks of the engine's model
        def session(self, memory, kalman, profile, embedding):
            return ScriptedEngine({})

    models = Models(FunctionPrompter(detect), Engines())
    config = load_config("yolo-sam2")
    frames = [np.zeros((24, 32, 3), np.uint8)] * 40
    pipelines = [new_session(models, config, list(frames)) for _ in range(3)]
    threads = [threading.Thread(target=pipeline.run) for pipeline in pipelines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [pipeline.summary.frames for pipeline in pipelines] == [40, 40, 40]
    assert most[0] == 1
