"""Many streams in one console process: processed frames per stream and in all, and resident memory, for N copies of
a clip played at its own speed (as cameras deliver frames), each stream following 2 objects, random weights.

    python benchmarks/bench_streams.py --streams 1 --seconds 75
    python benchmarks/bench_streams.py --streams 4 --seconds 75
    python benchmarks/bench_streams.py --streams 4 --model sam2.1_t --imgsz 512

Compare the aggregate rate of 4 streams with 1 stream's, and with 4 separate processes started side by side:

    for i in 1 2 3 4; do timeout 75 autotrack track clip.mp4 --sam edgetam --sam-weights random \\
        --imgsz 512 -p manual-sam2 --box 40,40,200,200 --box 220,60,380,220 --mot /tmp/s$i.txt & done; wait

(clip.mp4: the same clip, e.g. `--clip clip.mp4` for both; `autotrack track` on a file processes every frame rather
than playing it live, so compare its frames per second.) Run it on a quiet machine: other jobs on the same cores
change every figure.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from autotrack.eval.synthetic import make_scenario, write_scenario
from autotrack.prompters.manual import ManualPrompts
from autotrack.serve import Console, RunOptions
from autotrack.serve.cameras import Camera

BOXES = ["40,40,200,200", "220,60,380,220"]  # 2 objects per stream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--clip", help="a 320x240 video longer than --seconds (default: a synthetic one, made here)")
    parser.add_argument("--model", default="edgetam", help="edgetam or sam2.1_t")
    parser.add_argument("--imgsz", type=int, default=512)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    overrides = {"sam.model": args.model, "sam.weights": "random", "sam.imgsz": args.imgsz, "device": args.device}
    with TemporaryDirectory() as folder:
        clip = args.clip or str(write_scenario(make_scenario("mixed", int(args.seconds * 30) + 600, (320, 240)),
                                               Path(folder) / "clip").video)
        options = RunOptions("manual-sam2", overrides, prompts=ManualPrompts.from_options(BOXES),
                             output_dir=Path(folder))
        console = Console(options, max_sources=args.streams)
        workers = [console.add(Camera(f"stream-{i + 1}", clip)) for i in range(args.streams)]
        while not all(worker.last_frame for worker in workers):  # the models loaded, every stream running
            time.sleep(0.1)
        start = {worker.id: worker.last_frame["stats"]["frames"] for worker in workers}
        time.sleep(args.seconds)
        frames = {worker.id: worker.last_frame["stats"]["frames"] - start[worker.id] for worker in workers}
        stats = {worker.id: worker.last_frame["stats"] for worker in workers}
        console.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for name, count in frames.items():
        print(f"{name}: {count} frames, {count / args.seconds:.2f} fps, dropped {stats[name]['dropped']}, "
              f"latency {stats[name]['latency_ms']} ms")
    total = sum(frames.values())
    print(f"{args.streams} streams, {args.model} at {args.imgsz}: {total} frames in {args.seconds:g} s = "
          f"{total / args.seconds:.2f} fps in all; slowest/fastest stream {min(frames.values()) / max(frames.values()):.2f}; "
          f"peak resident memory {rss:.0f} MiB")


if __name__ == "__main__":
    main()
