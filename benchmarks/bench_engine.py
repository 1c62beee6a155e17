"""Our SAM2 engine against ultralytics' SAM2VideoPredictor, and our engine's memory over a long run.

Speed (default): both engines load the same random `sam2.1_t.pt`, read the same clip and get the same box prompts
on frame 0, with 1 and with 3 objects. After a warm-up, N frames are timed; decoding is left out on both sides
(ours: `SAM2Tracker.step`; theirs: preprocess + inference + postprocess). Our frame time is split between the
image encoder, memory attention, decoder, memory encoder and our own code (the rest of `step`).

Memory (--memory): our engine with 3 objects for 1,000 frames of a synthetic clip at a small input size; resident
memory (RSS) at frames 100 and 1,000 and the memory entries each object holds (--model edgetam: EdgeTAM, whose
smallest input size is 256).

    python benchmarks/bench_engine.py                      # bedroom.mp4, imgsz 512, 30 timed frames
    python benchmarks/bench_engine.py --source synthetic --frames 10
    python benchmarks/bench_engine.py --memory             # imgsz 128, 1,000 frames
    python benchmarks/bench_engine.py --memory --model edgetam --memory-imgsz 256
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from autotrack.bench import MB, make_clip, run_engine, run_ultralytics, weights_file
from autotrack.sam2.engine import STAGES, SAM2Tracker

MODEL = "sam2.1_t"
BEDROOM = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos" / "bedroom.mp4"


def speed(source: str | None, imgsz: int, frames: int, warmup: int, device: str) -> None:
    print(f"{MODEL}, random weights, imgsz {imgsz}, {frames} timed frames after {warmup} warm-up, device {device}, "
          f"{torch.get_num_threads()} torch threads, clip {source or 'synthetic'}")
    with tempfile.TemporaryDirectory() as tmp:
        weights = weights_file(MODEL, "random", tmp)
        for objects in (1, 3):
            clip = make_clip(source, warmup + frames, objects, tmp)
            ours = run_engine(clip, SAM2Tracker(MODEL, str(weights), imgsz, device, profile=True), warmup).summary()
            theirs = run_ultralytics(clip, weights, imgsz, device, warmup).summary()
            ratio = ours["fps_without_decode"] / theirs["fps_without_decode"]
            print(f"{objects} object(s): ours {ours['fps_without_decode']:.2f} fps, ultralytics "
                  f"{theirs['fps_without_decode']:.2f} fps, ours/ultralytics {ratio:.2f}x")
            split = {stage: ours["stages_ms"].get(stage, 0.0) for stage in STAGES}
            split["our code"] = ours["stages_ms"]["engine_other"]
            total = sum(split.values())
            print("  our frame: " + ", ".join(f"{k} {v:.1f} ms ({100 * v / total:.0f}%)" for k, v in split.items()))


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
    parser.add_argument("--device", default="auto")
    parser.add_argument("--memory", action="store_true", help="the long memory run instead of speed")
    parser.add_argument("--memory-frames", type=int, default=1000)
    parser.add_argument("--memory-imgsz", type=int, default=128)
    parser.add_argument("--model", default=MODEL, help="the model of the memory run: sam2.1_t, edgetam, ...")
    args = parser.parse_args()
    if args.memory:
        memory(args.model, args.memory_imgsz, args.memory_frames, args.device)
    else:
        speed(None if args.source == "synthetic" else args.source, args.imgsz, args.frames, args.warmup, args.device)


if __name__ == "__main__":
    main()
