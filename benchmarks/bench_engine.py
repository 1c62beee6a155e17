"""Our SAM2 engine against ultralytics' SAM2VideoPredictor, our own code at full HD, and memory over a long run.

Speed (default): our engine in its automatic precision and in fp32, and ultralytics' SAM2VideoPredictor, load the
same random `sam2.1_t.pt`, read the same clip and get the same box prompts on frame 0, with 1 and with 3 objects.
Each contender runs `--rounds` times, the order rotated every round, so that no contender always runs first or in
the same phase of the machine's load. Prints fps, the ratios to SAM2VideoPredictor per round, and the split of a
frame (decode, image encoder, memory attention, decoder, memory encoder, our own code = the rest of `step`).

Own code (--own-code): our engine alone with 10 objects on a 1920x1080 synthetic clip: the time per frame outside
the four model stages (letterbox, memory selection, Kalman scoring, full-resolution masks and boxes, copies), and
its share of the engine's frame time.

Memory (--memory): our engine with 3 objects for 1,000 frames of a synthetic clip at a small input size; resident
memory (RSS) at frames 100 and 1,000 and the memory entries each object holds (--model edgetam: EdgeTAM, whose
smallest input size is 256).

    python benchmarks/bench_engine.py                      # bedroom.mp4, imgsz 512, 30 timed frames, 3 rounds
    python benchmarks/bench_engine.py --source synthetic --frames 10 --rounds 1
    python benchmarks/bench_engine.py --own-code           # 1920x1080, 10 objects, imgsz 512
    python benchmarks/bench_engine.py --memory             # imgsz 128, 1,000 frames
    python benchmarks/bench_engine.py --memory --model edgetam --memory-imgsz 256
"""

from __future__ import annotations

import argparse
import functools
import tempfile
from pathlib import Path

import torch

from autotrack.bench import (
    MB,
    ULTRALYTICS,
    Clip,
    RunResult,
    format_report,
    make_clip,
    run_engine,
    run_rounds,
    run_ultralytics,
    spread_boxes,
    weights_file,
)
from autotrack.device import resolve_device
from autotrack.engine.engine import STAGES
from autotrack.models import SAM2Tracker
from autotrack.engine.precision import resolve_precision

MODEL = "sam2.1_t"
BEDROOM = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos" / "bedroom.mp4"
FULL_HD = (1920, 1080)


def speed(source: str | None, imgsz: int, frames: int, warmup: int, rounds: int, device: str) -> None:
    print(f"{MODEL}, random weights, imgsz {imgsz}, {frames} timed frames after {warmup} warm-up, {rounds} round(s), "
          f"device {device}, {torch.get_num_threads()} torch threads, clip {source or 'synthetic'}")
    with tempfile.TemporaryDirectory() as tmp:
        weights = weights_file(MODEL, "random", tmp)
        auto = resolve_precision("auto", resolve_device(device))
        precisions = {f"ours {auto} (auto)": "auto", "ours fp32": "fp32"} if auto != "fp32" else {"ours fp32": "fp32"}
        for objects in (1, 3):
            clip = make_clip(source, warmup + frames, objects, tmp)

            def ours(name: str, precision: str, clip: Clip = clip) -> RunResult:
                tracker = SAM2Tracker(MODEL, str(weights), imgsz, device, precision=precision, profile=True)
                return run_engine(clip, tracker, warmup, name)

            contenders = {name: functools.partial(ours, name, precision) for name, precision in precisions.items()}
            contenders[ULTRALYTICS] = functools.partial(run_ultralytics, clip, weights, imgsz, device, warmup)
            print(f"\n{objects} object(s):")
            print(format_report(run_rounds(contenders, rounds), ULTRALYTICS))


def own_code(imgsz: int, frames: int, warmup: int, device: str, objects: int = 10) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(None, warmup + frames, 1, tmp, size=FULL_HD)
        clip = Clip(clip.video, spread_boxes(FULL_HD, objects), clip.frames)
        tracker = SAM2Tracker(MODEL, "random", imgsz, device, profile=True)
        stages = run_engine(clip, tracker, warmup).summary()["stages_ms"]
    engine = sum(stages.get(stage, 0.0) for stage in (*STAGES, "engine_other"))
    own = stages["engine_other"]
    print(f"own code, {FULL_HD[0]}x{FULL_HD[1]}, {objects} objects, imgsz {imgsz}, {tracker.precision}, "
          f"{frames} timed frames: {own:.1f} ms per frame, {100 * own / engine:.1f}% of the engine's "
          f"{engine:.0f} ms (model stages: " + ", ".join(f"{s} {stages.get(s, 0.0):.0f} ms" for s in STAGES) + ")")


def memory(model: str, imgsz: int, frames: int, device: str) -> None:
    print(f"{model}, random weights, imgsz {imgsz}, 3 objects, {frames} frames of a 320x240 synthetic clip")
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(None, frames, 3, tmp, size=(320, 240))
        result = run_engine(clip, SAM2Tracker(model, "random", imgsz, device, profile=True), warmup=0)
    for frame in (100, frames):
        print(f"  RSS after frame {frame:5d}: {result.rss[frame - 1] / MB:8.1f} MB")
    print(f"  growth from frame 100 to {frames}: {(result.rss[-1] - result.rss[99]) / MB:+.1f} MB")
    print(f"  memory entries per object: {result.memory_entries}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(BEDROOM), help="video file, or 'synthetic' (default: bedroom.mp4)")
    parser.add_argument("--imgsz", type=int, default=512)
    parser.add_argument("--frames", type=int, default=30, help="timed frames")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender, the order rotated each round")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--own-code", action="store_true", help="our own code at 1920x1080 with 10 objects")
    parser.add_argument("--memory", action="store_true", help="the long memory run instead of speed")
    parser.add_argument("--memory-frames", type=int, default=1000)
    parser.add_argument("--memory-imgsz", type=int, default=128)
    parser.add_argument("--model", default=MODEL, help="the model of the memory run: sam2.1_t, edgetam, ...")
    args = parser.parse_args()
    if args.memory:
        memory(args.model, args.memory_imgsz, args.memory_frames, args.device)
    elif args.own_code:
        own_code(args.imgsz, args.frames, args.warmup, args.device)
    else:
        source = None if args.source == "synthetic" else args.source
        speed(source, args.imgsz, args.frames, args.warmup, args.rounds, args.device)


if __name__ == "__main__":
    main()
