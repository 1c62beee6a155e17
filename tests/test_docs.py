"""The README is a front door that works as written: short, the set-up and a first run in its first screen, a sample
clip that ships, and no link or anchor in it or in docs/ that leads nowhere."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from autotrack.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def without_code(text: str) -> str:
    """The text outside fenced code blocks and inline code, where a [x](y) is not a link."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, inline code and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())  # a link keeps its text
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor the page's headings make, with GitHub's -1, -2 suffixes for repeated ones."""
    seen: dict[str, int] = {}
    found = set()
    for line in FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            base = slug(match.group(1))
            seen[base] = seen.get(base, -1) + 1
            found.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
    return found


def broken_links(page: Path) -> list[str]:
    """The relative links and #anchors on `page` whose file or heading does not exist."""
    broken = []
    for target in LINK.findall(without_code(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...: not checked here
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{target}: no such heading in {linked.name}")
    return broken


def test_the_slugs_follow_github():
    assert slug("Find objects by name or by example") == "find-objects-by-name-or-by-example"
    assert slug("The browser console (`autotrack serve`)") == "the-browser-console-autotrack-serve"
    assert slug("EdgeTAM against SAM2.1-tiny") == "edgetam-against-sam21-tiny"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    assert broken_links(page) == []


def test_a_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / "other.md").write_text("# Real heading\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("# Top\n[a](other.md#real-heading) [b](#top) [c](other.md#nope) [d](gone.md) `[e](gone.md)`\n"
                    "```\n[f](gone.md)\n```\n[g](https://example.com/x)\n", encoding="utf-8")
    assert [entry.split(":")[0] for entry in broken_links(page)] == ["other.md#nope", "gone.md"]


def test_the_readme_is_short_and_its_first_screen_sets_up_and_runs():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250
    first_screen = "\n".join(lines[:40])
    assert 'pip install -e ".[dev]"' in first_screen
    assert "\npython -m pytest -q\n" in first_screen  # CI runs exactly the README's test command
    assert "autotrack track examples/sample.mp4" in first_screen


def count_frames(video: Path) -> int:
    """Frames OpenCV decodes from `video` (0 when it cannot open it)."""
    capture = cv2.VideoCapture(str(video))
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    return frames


def test_the_sample_clip_ships_and_opens():
    assert count_frames(ROOT / "examples" / "sample.mp4") > 25
    assert (ROOT / "examples" / "sample.mp4").stat().st_size < 300_000


def test_the_sample_prompts_are_the_clips_first_frame_truth():
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "examples" / "make_sample.py")
    make_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_sample)
    boxes = make_sample.first_frame_boxes(make_sample.sample_scenario())
    shipped = json.loads((ROOT / "examples" / "sample_prompts.json").read_text(encoding="utf-8"))["objects"]
    assert {entry["id"]: entry["box"] for entry in shipped if entry["frame"] == 0} == boxes
    box = ",".join(map(str, boxes[1]))  # the README's first run follows object 1
    assert f"autotrack track examples/sample.mp4 --box {box} " in README.read_text(encoding="utf-8")


def test_the_readmes_smoke_command_runs_as_written(tmp_path, monkeypatch, one_torch_thread):
    """The first-screen command that needs no download, run from the checkout's root, writes its video."""
    first_screen = README.read_text(encoding="utf-8").splitlines()[:40]
    smoke = [line for line in first_screen if line.startswith("autotrack track") and "--sam-weights random" in line]
    assert len(smoke) == 1
    args = shlex.split(smoke[0])[1:]
    output = args[args.index("--output") + 1]
    monkeypatch.chdir(ROOT)
    args[args.index("--output") + 1] = str(tmp_path / output)  # the checkout stays clean
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert count_frames(tmp_path / output) == int(args[args.index("--max-frames") + 1])
