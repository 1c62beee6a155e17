"""Many streams in one console process: processed frames per stream and in all, and resident memory, for N copies of
a clip played at its own speed (as cameras deliver frames), each stream following 2 objects, random weights.

    python benchmarks/bench_streams.py --streams 1 --seconds 75
    python benchmarks/bench_streams.py --streams 4 --seconds 75
    python benchmarks/bench_streams.py --streams 4 --model sam2.1_t --imgsz 512

`--cut 10`: stream 1 comes from the RTSP test server (tests/rtsp_server.py; it needs Debian's GStreamer RTSP
server, see .ci/apt-packages.txt), which is stopped for 10 s after 10 s of running; the others' rates before and
during the cut are reported, and whether stream 1 reconnected with the IDs it had:

    python benchmarks/bench_streams.py --streams 4 --cut 10

`--processes`: the same N streams as N separate `autotrack track` processes started side by side (each on the clip,
stopped with SIGTERM --seconds after its first result), for the comparison with one console process. `autotrack
track` on a file processes every frame rather than playing it live, so compare processed frames per second:

    python benchmarks/bench_streams.py --streams 4 --processes

Run it on a quiet machine: other jobs on the same cores change every figure.
"""

from __future__ import annotations

import argparse
import re
import resource
import signal
import subprocess
import sys
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
    parser.add_argument("--cut", type=float, metavar="SECONDS",
                        help="stream 1 from the RTSP test server, cut for this long; the others' rates around it")
    parser.add_argument("--processes", action="store_true", help="N `autotrack track` processes instead")
    args = parser.parse_args()

    with TemporaryDirectory() as folder:
        clip = args.clip or str(write_scenario(make_scenario("mixed", int(args.seconds * 30) + 600, (320, 240)),
                                               Path(folder) / "clip").video)
        if args.processes:
            separate_processes(args, clip, Path(folder))
        elif args.cut:
            cut_one(args, clip, Path(folder))
        else:
            one_console(args, clip, Path(folder))


def start_console(args, sources: list[str], folder: Path) -> tuple[Console, list]:
    """A console on `sources` (stream-1, stream-2, ...), once every stream has its first result."""
    overrides = {"sam.model": args.model, "sam.weights": "random", "sam.imgsz": args.imgsz, "device": args.device}
    options = RunOptions("manual-sam2", overrides, prompts=ManualPrompts.from_options(BOXES), output_dir=folder)
    console = Console(options, max_sources=len(sources))
    workers = [console.add(Camera(f"stream-{i + 1}", source)) for i, source in enumerate(sources)]
    while not all(worker.last_frame for worker in workers):  # the models loaded, every stream running
        time.sleep(0.1)
    return console, workers


def frames(workers) -> dict[str, int]:
    return {worker.id: worker.last_frame["stats"]["frames"] for worker in workers}


def one_console(args, clip: str, folder: Path) -> None:
    console, workers = start_console(args, [clip] * args.streams, folder)
    start, cpu = frames(workers), time.process_time()
    time.sleep(args.seconds)
    counts = {name: count - start[name] for name, count in frames(workers).items()}
    busy = (time.process_time() - cpu) / args.seconds  # cores kept busy, on average
    stats = {worker.id: worker.last_frame["stats"] for worker in workers}
    console.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for name, count in counts.items():
        print(f"{name}: {count} frames, {count / args.seconds:.2f} fps, dropped {stats[name]['dropped']}, "
              f"latency {stats[name]['latency_ms']} ms")
    total, spread = sum(counts.values()), min(counts.values()) / max(counts.values())
    print(f"{args.streams} streams, {args.model} at {args.imgsz}: {total} frames in {args.seconds:g} s = "
          f"{total / args.seconds:.2f} fps in all; slowest/fastest stream {spread:.2f}; "
          f"peak resident memory {rss:.0f} MiB; {busy:.2f} cores busy")


def cut_one(args, clip: str, folder: Path) -> None:
    """Stream 1 from the RTSP test server; the others' rates for --cut s before the cut and during it, then how
    long stream 1 took to come back and whether its objects kept their IDs."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from live_stream import RtspServer

    server = RtspServer()
    server.start()
    console, (camera, *others) = start_console(args, [server.url] + [clip] * (args.streams - 1), folder)
    try:
        time.sleep(args.cut)
        before = frames(others)
        time.sleep(args.cut)
        ids = sorted(row["id"] for row in camera.last_frame["objects"] if row["status"] != "lost")
        server.stop()
        middle = frames(others)
        time.sleep(args.cut)
        during = frames(others)
        server.start()
        back = time.monotonic()
        while camera.last_frame["stats"]["reconnects"] == 0 and time.monotonic() < back + 60:
            time.sleep(0.1)
        reconnected, waited = camera.last_frame["stats"]["reconnects"] > 0, time.monotonic() - back
        time.sleep(1.0)  # a few frames after the reconnection
        after_ids = sorted(row["id"] for row in camera.last_frame["objects"] if row["status"] != "lost")
    finally:
        console.close()
        server.stop()
    for worker in others:
        rate = (middle[worker.id] - before[worker.id]) / args.cut
        cut_rate = (during[worker.id] - middle[worker.id]) / args.cut
        print(f"{worker.id}: {rate:.2f} fps before the cut, {cut_rate:.2f} fps during it "
              f"({(cut_rate / rate - 1) * 100 if rate else float('nan'):+.0f}%)")
    print(f"stream-1 cut for {args.cut:g} s: " + (f"reconnected {waited:.1f} s after the server came back; "
          f"live IDs before {ids}, after {after_ids}" if reconnected else "did not reconnect within 60 s"))


def separate_processes(args, clip: str, folder: Path) -> None:
    """N `autotrack track` processes on the clip side by side, each stopped after --seconds; their summaries."""
    command = [sys.executable, "-m", "autotrack.cli", "track", clip, "-p", "manual-sam2", "--sam", args.model,
               "--sam-weights", "random", "--imgsz", str(args.imgsz), "--device", args.device,
               *(option for box in BOXES for option in ("--box", box))]
    mots = [folder / f"s{i + 1}.txt" for i in range(args.streams)]
    processes = [subprocess.Popen([*command, "--mot", str(mot)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True) for mot in mots]
    started: dict[int, float] = {}  # process -> when its first result was written (its models loaded)
    stopped: set[int] = set()
    deadline = time.monotonic() + 600  # a process that has not started by then is stopped too
    while len(stopped) < len(processes):
        now = time.monotonic()
        for i, (process, mot) in enumerate(zip(processes, mots)):
            if i not in started and mot.is_file() and mot.stat().st_size > 0:
                started[i] = now
            if i not in stopped and (now >= started.get(i, deadline) + args.seconds or now >= deadline):
                process.send_signal(signal.SIGTERM)  # the summary is printed as it stops
                stopped.add(i)
        time.sleep(0.1)
    total = 0.0
    for i, process in enumerate(processes):
        output = process.communicate(timeout=120)[0]
        summary = dict(re.findall(r"^\s*(frames|processed fps)\s+(\S+)", output, re.MULTILINE))
        if not summary:  # stopped before its first frame (still loading?), or failed
            print(f"process {i + 1}: no summary (exit code {process.returncode}): {output.strip()[-300:]!r}")
            continue
        total += float(summary["processed fps"])
        print(f"process {i + 1}: {summary['frames']} frames, {summary['processed fps']} fps")
    print(f"{args.streams} processes, {args.model} at {args.imgsz}: {total:.2f} fps in all (model loading not "
          f"counted: each process's rate is over its own processing time)")


if __name__ == "__main__":
    main()
