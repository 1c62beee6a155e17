"""Bench results out and back in: the text report, the JSON report (`autotrack bench --json`), the plot, and the
JSON reports read back from a folder (the repository's `benchmarks/results/`) into the figures the advice ships
(`speed_figures`) and the README's speed tables (`speed_tables`), so that no figure is copied by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autotrack.bench.runners import BASELINE, ULTRALYTICS
from autotrack.bench.stats import MB, RunResult, named_ratios, summarize_rounds
from autotrack.sinks.staging import write_whole


def format_report(results: dict[str, list[RunResult]], reference: str | None = None,
                  pairs: dict[str, str] | None = None) -> str:
    """A line of figures per contender, the ratios to the reference contender and between `pairs` of contenders
    (round by round), and each contender's split of its frame time by stage."""
    summaries = {name: summarize_rounds(runs) for name, runs in results.items()}
    rounds = max(len(runs) for runs in results.values())
    header = (f"{'run':34s}{'frames':>7s}{'fps':>8s}{'fps*':>8s}{'ms/frame':>10s}{'spread':>8s}{'peak RSS MB':>13s}"
              f"{'RSS growth MB':>15s}")
    lines = [header]
    for name, s in summaries.items():
        lines.append(f"{name:34s}{s['frames']:>7d}{s['fps']:>8.2f}{s['fps_without_decode']:>8.2f}"
                     f"{s['ms_per_frame']:>10.1f}{100 * s['spread']:>7.0f}%{s['peak_rss_mb']:>13.0f}"
                     f"{s['rss_growth_mb']:>15.1f}")
    lines.append(f"(over {rounds} round(s), the order rotated each round; fps* leaves out decoding; spread: "
                 f"(max - min) / median of the rounds' fps; the first frames of each run are a warm-up, not timed)")
    for name, values in named_ratios(results, reference, pairs).items():
        lines.append(f"{name}: {np.median(values):.2f}x (rounds: {', '.join(f'{v:.2f}' for v in values)})")
    for name, s in summaries.items():
        total = sum(s["stages_ms"].values()) or 1.0
        split = ", ".join(f"{stage} {ms:.1f} ms ({100 * ms / total:.0f}%)" for stage, ms in s["stages_ms"].items())
        lines.append(f"{name}: {split}")
        if s["memory_entries"]:
            lines.append(f"{name}: memory entries per object {s['memory_entries']}")
    return "\n".join(lines)


def report_dict(results: dict[str, list[RunResult]], settings: dict, reference: str | None = None,
                pairs: dict[str, str] | None = None) -> dict:
    """JSON-ready: the settings; per contender its summary over the rounds and each round's summary with per-frame
    ms and RSS MB; the ratios to the reference and between `pairs` per round."""
    runs = {}
    for name, rounds in results.items():
        runs[name] = {**summarize_rounds(rounds), "rounds": [
            {**r.summary(), "per_frame": {"ms": [1000 * s for s in r.seconds], "rss_mb": [b / MB for b in r.rss]}}
            for r in rounds]}
    report = {"settings": settings, "runs": runs}
    named = named_ratios(results, reference, pairs)
    if named:
        report["ratios"] = named
    return report


def save_plot(results: dict[str, list[RunResult]], path: str | Path, title: str = "") -> None:
    """PNG with two panels: time per frame and resident memory, one line per contender (its first round)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (speed, memory) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for name, runs in results.items():
        speed.plot([1000 * s for s in runs[0].seconds], label=name)
        memory.plot([b / MB for b in runs[0].rss], label=name)
    speed.set_ylabel("ms per frame")
    speed.set_yscale("log")
    speed.legend()
    memory.set_ylabel("resident memory (MB)")
    memory.set_xlabel("frame")
    if title:
        speed.set_title(title)
    figure.tight_layout()
    write_whole(path, lambda tmp: figure.savefig(tmp, dpi=100))
    plt.close(figure)


# ------------------------------------------------------------------------------------------- result files back
@dataclass(frozen=True)
class BenchFile:
    """One JSON report (`report_dict`) read back: its settings, each run's summary over its rounds, the ratios."""

    name: str  # the file's name
    settings: dict
    runs: dict[str, dict]
    ratios: dict[str, list[float]]

    @property
    def model(self) -> str:
        return self.settings["model"]

    @property
    def key(self) -> tuple[int, int]:
        """(imgsz, objects): the order of the README's rows."""
        return self.settings["imgsz"], self.settings["objects"]

    def run_name(self, model: str, precision: str = "auto") -> str:
        """The name `pipeline_contenders` gave the run of `model` in `precision`: "autotrack sam2.1_t bf16 (auto)"
        answers "auto" and "bf16"."""
        prefix = f"autotrack {model} "
        for name in self.runs:
            if name.startswith(prefix) and precision in name.removeprefix(prefix).replace("(auto)", "auto").split():
                return name
        raise KeyError(f"{self.name} has no run of {model} in {precision}")

    def fps(self, name: str) -> float:
        """A run's frames per second over its rounds."""
        return self.runs[name]["fps"]

    def ratio(self, name: str, reference: str) -> list[float]:
        """fps of run `name` over run `reference`'s, round by round."""
        return self.ratios[f"{name} / {reference}"]


def load_results(folder: str | Path) -> list[BenchFile]:
    """Every `*.json` report in `folder`, by file name."""
    files = []
    for path in sorted(Path(folder).glob("*.json")):
        report = json.loads(path.read_text())
        files.append(BenchFile(path.name, report["settings"], report["runs"], report.get("ratios", {})))
    return files


def speed_figures(results: list[BenchFile]) -> dict:
    """What `autotrack.advice` ships (`autotrack/cpu_speed.json`): per report the fps of its own model in its
    automatic precision, with its input size and object count."""
    runs = [{"model": r.model, "imgsz": r.settings["imgsz"], "objects": r.settings["objects"],
             "fps": r.fps(r.run_name(r.model))} for r in results]
    return {"about": "fps of `autotrack bench` runs on a CPU, from benchmarks/results/ by "
                     "benchmarks/update_figures.py; do not edit", "runs": runs}


def _row(result: BenchFile, cells: list[str]) -> str:
    imgsz, objects = result.key
    return f"| {imgsz}, {objects} | " + " | ".join(cells) + " |"


def predictor_rows(results: list[BenchFile]) -> list[str]:
    """README rows of SAM2.1-tiny in our engine against SAM2VideoPredictor: fps in the automatic precision, in
    fp32 and of the predictor, then the ratios of ours to the predictor's (median, then each round)."""
    rows = []
    for result in sorted((r for r in results if r.model == BASELINE and ULTRALYTICS in r.runs), key=lambda r: r.key):
        ours = [result.run_name(BASELINE, precision) for precision in ("auto", "fp32")]
        cells = [f"{result.fps(name):.2f} fps" for name in (*ours, ULTRALYTICS)]
        for name in ours:
            values = result.ratio(name, ULTRALYTICS)
            cells.append(f"{np.median(values):.2f}x ({', '.join(f'{v:.2f}' for v in values)})")
        rows.append(_row(result, cells))
    return rows


def baseline_rows(results: list[BenchFile], model: str) -> list[str]:
    """README rows of `model` against SAM2.1-tiny, both in our engine: for the automatic precision, then fp32, the
    fps of each and the ratio (median of the rounds)."""
    rows = []
    for result in sorted((r for r in results if r.model == model), key=lambda r: r.key):
        cells = []
        for precision in ("auto", "fp32"):
            ours, baseline = result.run_name(model, precision), result.run_name(BASELINE, precision)
            cells += [f"{result.fps(ours):.2f}", f"{result.fps(baseline):.2f}",
                      f"{np.median(result.ratio(ours, baseline)):.1f}x"]
        rows.append(_row(result, cells))
    return rows


def speed_tables(results: list[BenchFile]) -> dict[str, list[str]]:
    """The README's speed tables by name, each the rows between `<!-- speed-table:NAME:start -->` and its end
    marker (after the table's header)."""
    return {"predictor": predictor_rows(results), "edgetam": baseline_rows(results, "edgetam")}
