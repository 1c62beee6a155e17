"""Long-term re-identification on a synthetic stream with ground truth: revival accuracy, false revivals, IDF1 with
and without re-identification, and flat memory.

The stream: `--objects` objects of distinct appearance come and go, each visit 100 to 300 frames long and each
absence 100 to 1,000 frames (far past `identity.max_lost`, so without re-identification every return is a new ID);
they come back in another place. While an object is away, a look-alike distractor may enter for 50 to 150 frames
(its look at cosine `--lookalike` with the absent object's) and leave for good; half the objects are of a second
class. Detections are perfect; the scripted engine of the test suite follows them and reports each object's look
with noise as its embedding (two frames of one object are about 0.9 similar), since random weights cannot
tell objects apart (docs/reid.md).

Reported: returns that got their old ID back (revival accuracy), distractors given an old ID (false revival rate),
IDF1 and ID switches with and without re-identification (scored by `autotrack eval mot GT PRED`'s own code,
`evaluate_mot`), galleries kept along the stream (bounded), and the resident memory at the start, middle and end of
the stream with re-identification on (flat).

    python benchmarks/bench_reid.py                    # the full run: 10,000 frames, 8 objects
    python benchmarks/bench_reid.py --frames 1500      # a short one
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakes import FunctionPrompter, ScriptedEngine, make_detections  # noqa: E402

from autotrack.config import ReidConfig  # noqa: E402
from autotrack.eval.mot import evaluate_mot  # noqa: E402
from autotrack.identity import IdentityManager  # noqa: E402
from autotrack.pipeline import Pipeline  # noqa: E402
from autotrack.reid import Reidentifier  # noqa: E402
from autotrack.sinks import MotSink  # noqa: E402
from autotrack.sinks.mot import format_mot_row  # noqa: E402
from autotrack.types import EventKind  # noqa: E402

HEIGHT, WIDTH = 240, 320
CELL = 80  # the frame is a 4x3 grid of cells; one entity per cell at a time, so boxes never overlap
REST = 60  # frames a cell stays empty between two visits: past max_lost, so no newcomer resumes a hidden track
DIM = 64
NOISE = 0.04  # per-dimension noise on a look: two frames of one object are about 0.9 similar


@dataclass
class Entity:
    name: str
    truth_id: int
    class_id: int
    look: np.ndarray
    visits: list[tuple[int, int, int]]  # (start, end, cell)
    distractor_of: str | None = None


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def make_stream(frames: int, objects: int, lookalike: float, seed: int) -> list[Entity]:
    """Objects that leave and return, and look-alike distractors that enter while they are away."""
    rng = np.random.default_rng(seed)
    free = np.ones((12, frames), bool)  # cell x frame

    def place(start: int, end: int) -> int | None:
        cells = [c for c in rng.permutation(12) if free[c, max(start - REST, 0):end].all()]
        if not cells:
            return None
        free[cells[0], start:end] = False
        return int(cells[0])

    entities: list[Entity] = []
    for k in range(objects):
        entity = Entity(f"object{k}", k + 1, k % 2, unit(rng.normal(size=DIM)), [])
        start = int(rng.integers(0, 100))
        while start < frames:
            end = min(start + int(rng.integers(100, 300)), frames)
            cell = place(start, end)
            if cell is not None:
                entity.visits.append((start, end, cell))
            start = end + int(rng.integers(100, 1000))
            if start < frames and rng.random() < 0.5:  # a look-alike comes by while it is away
                entry = end + int(rng.integers(20, 80))
                stay = min(entry + int(rng.integers(50, 150)), frames)
                cell = place(entry, stay) if entry < stay else None
                if cell is not None:
                    other = unit(rng.normal(size=DIM))
                    other = unit(other - (other @ entity.look) * entity.look)
                    look = lookalike * entity.look + np.sqrt(1 - lookalike**2) * other
                    entities.append(Entity(f"lookalike{len(entities)}", 0, entity.class_id, look,
                                           [(entry, stay, cell)], entity.name))
        entities.append(entity)
    for n, entity in enumerate(sorted((e for e in entities if e.distractor_of), key=lambda e: e.visits[0][0])):
        entity.truth_id = objects + n + 1
    return entities


def world_of(entities: list[Entity], frames: int) -> dict[str, list[np.ndarray | None]]:
    """Each entity's box per frame: a 40 px square swaying around its cell's centre."""
    world = {}
    for entity in entities:
        boxes: list[np.ndarray | None] = [None] * frames
        for start, end, cell in entity.visits:
            cx, cy = (cell % 4) * CELL + CELL / 2, (cell // 4) * CELL + CELL / 2
            for f in range(start, end):
                dx, dy = 10 * np.sin(f / 25), 6 * np.cos(f / 40)
                boxes[f] = np.array([cx + dx - 20, cy + dy - 20, cx + dx + 20, cy + dy + 20], np.float32)
        world[entity.name] = boxes
    return world


def write_truth(entities: list[Entity], world: dict, frames: int, root: Path) -> None:
    sequence = root / "reid"
    (sequence / "gt").mkdir(parents=True)
    (sequence / "seqinfo.ini").write_text(f"[Sequence]\nname=reid\nseqLength={frames}\nimWidth={WIDTH}\n"
                                          f"imHeight={HEIGHT}\nframeRate=30\n")
    with open(sequence / "gt" / "gt.txt", "w") as gt:
        for f in range(frames):
            for entity in entities:
                if world[entity.name][f] is not None:
                    gt.write(format_mot_row(f + 1, entity.truth_id, world[entity.name][f], 1, (1, 1)))


def run(entities: list[Entity], world: dict, frames: int, reid: bool, out: Path) -> dict:
    """One pass through the pipeline; returns its revival counts, the galleries kept every tenth of the stream and
    the resident memory (MiB) at its start, middle and end."""
    classes = {e.name: e.class_id for e in entities}
    engine = ScriptedEngine(world, frame_shape=(HEIGHT, WIDTH), looks={e.name: e.look for e in entities},
                            look_noise=NOISE)

    def detect(frame: np.ndarray, f: int):
        names = [name for name, boxes in world.items() if boxes[f] is not None]
        return make_detections([world[n][f] for n in names], class_id=[classes[n] for n in names])

    reidentifier = Reidentifier(ReidConfig(enabled=True)) if reid else None
    blank = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    pipeline = Pipeline((blank for _ in range(frames)), FunctionPrompter(detect), engine,
                        [MotSink(out / "reid.txt")], IdentityManager(reid=reidentifier))
    first_id: dict[str, int] = {}
    returns = revived = distractors = false = 0
    galleries, rss = [], {}
    process = psutil.Process()
    starts = {(e.name, start): e for e in entities for start, _, _ in e.visits}
    for result in pipeline.stream():
        f = result.frame_index
        bound = engine.bindings
        for name_start in [key for key in starts if key[1] == f]:
            entity = starts[name_start]
            tracker_id = next(i for i, name in bound.items() if name == entity.name)
            if entity.distractor_of:
                distractors += 1
                false += any(e.kind == EventKind.REIDENTIFIED and e.tracker_id == tracker_id for e in result.events)
            elif entity.name in first_id:
                returns += 1
                revived += tracker_id == first_id[entity.name]
            else:
                first_id[entity.name] = tracker_id
        if f % max(frames // 10, 1) == 0 or f == frames - 1:
            galleries.append(len(reidentifier.known_ids) if reid else 0)
        for name, at in (("start", 0), ("middle", frames // 2), ("end", frames - 1)):
            if f == at:
                rss[name] = process.memory_info().rss / 2**20
    return {"returns": returns, "revived": revived, "distractors": distractors, "false": false,
            "galleries": galleries, "rss_mib": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--lookalike", type=float, default=0.7, help="cosine of a distractor's look with its object's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    entities = make_stream(args.frames, args.objects, args.lookalike, args.seed)
    world = world_of(entities, args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_truth(entities, world, args.frames, root / "gt")
        scores = {}
        for reid in (False, True):
            out = root / ("with" if reid else "without")
            out.mkdir()
            counts = run(entities, world, args.frames, reid, out)
            scores[reid] = evaluate_mot(root / "gt", out)["reid"]
            if reid:
                print(f"re-identification on, {args.frames} frames, {args.objects} objects, "
                      f"look-alikes at cosine {args.lookalike}:")
                print(f"  revival accuracy     {counts['revived']}/{counts['returns']} returns got their old ID")
                print(f"  false revival rate   {counts['false']}/{counts['distractors']} distractors took an old ID")
                print(f"  galleries kept       {counts['galleries']} (every tenth of the stream)")
                memory = ", ".join(f"{name} {mib:.0f} MiB" for name, mib in counts["rss_mib"].items())
                print(f"  resident memory      {memory}")
        for reid in (False, True):
            print(f"  IDF1 {'with' if reid else 'without'} re-ID: {scores[reid]['IDF1']:.1f}, "
                  f"ID switches {scores[reid]['IDSW']:.0f}")


if __name__ == "__main__":
    main()
