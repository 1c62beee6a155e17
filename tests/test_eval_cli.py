"""`autotrack eval mot|vos|sot` through click: tables, JSON output and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from autotrack.cli import main

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TUD = DATA / "motmetrics_tud"
DAVIS = DATA / "davis2016" / "Annotations" / "480p"
CROSSING = DATA / "otb_crossing" / "Crossing" / "groundtruth_rect.txt"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared test data not present")


def run(*args: str):
    return CliRunner().invoke(main, ["eval", *map(str, args)])


def test_mot_prints_table_and_writes_json(tmp_path):
    for seq in ("TUD-Campus", "TUD-Stadtmitte"):
        (tmp_path / "gt" / seq / "gt").mkdir(parents=True)
        (tmp_path / "gt" / seq / "gt" / "gt.txt").symlink_to((TUD / seq / "gt.txt").resolve())
        (tmp_path / "pred").mkdir(exist_ok=True)
        (tmp_path / "pred" / f"{seq}.txt").symlink_to((TUD / seq / "test.txt").resolve())

    result = run("mot", tmp_path / "gt", tmp_path / "pred", "--json", tmp_path / "out" / "mot.json")

    assert result.exit_code == 0, result.output
    assert "IDF1" in result.output and "COMBINED" in result.output
    saved = json.loads((tmp_path / "out" / "mot.json").read_text())
    assert list(saved) == ["TUD-Campus", "TUD-Stadtmitte", "COMBINED"]
    assert set(saved["COMBINED"]) == {"HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW"}
    assert saved["COMBINED"]["IDF1"] == pytest.approx(62.4296, abs=1e-3)
    assert saved["COMBINED"]["IDSW"] == 14


def test_mot_sequences_and_missing_predictions(tmp_path):
    for seq in ("TUD-Campus", "TUD-Stadtmitte"):
        (tmp_path / "gt" / seq / "gt").mkdir(parents=True)
        (tmp_path / "gt" / seq / "gt" / "gt.txt").symlink_to((TUD / seq / "gt.txt").resolve())
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "TUD-Campus.txt").symlink_to((TUD / "TUD-Campus" / "test.txt").resolve())

    # a ground-truth sequence without predictions is left out, with one line on stderr
    result = run("mot", tmp_path / "gt", tmp_path / "pred", "--json", tmp_path / "all.json")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"not scored (no prediction file in {tmp_path / 'pred'}): TUD-Stadtmitte\n"
    assert list(json.loads((tmp_path / "all.json").read_text())) == ["TUD-Campus", "COMBINED"]

    # --sequences scores exactly those named, quietly
    (tmp_path / "pred" / "TUD-Stadtmitte.txt").symlink_to((TUD / "TUD-Stadtmitte" / "test.txt").resolve())
    result = run("mot", tmp_path / "gt", tmp_path / "pred", "--sequences", "TUD-Stadtmitte", "--json",
                 tmp_path / "named.json")
    assert result.exit_code == 0 and result.stderr == "", result.output
    saved = json.loads((tmp_path / "named.json").read_text())
    assert list(saved) == ["TUD-Stadtmitte", "COMBINED"]
    assert saved["COMBINED"]["IDF1"] == pytest.approx(64.4619, abs=1e-3)  # the devkit's value for it alone

    result = run("mot", tmp_path / "gt", tmp_path / "pred", "--sequences", "TUD-Campus,nope")
    assert result.exit_code == 1
    assert result.output.startswith("Error: no sequence nope in ") and result.output.count("\n") == 1


def test_mot_frames_rule(tmp_path):
    """One pedestrian on all 10 frames of the sequence; the tracker ran on the first 4 and got them right."""
    (tmp_path / "gt" / "seq" / "gt").mkdir(parents=True)
    (tmp_path / "gt" / "seq" / "seqinfo.ini").write_text("[Sequence]\nname=seq\nseqLength=10\n")
    (tmp_path / "gt" / "seq" / "gt" / "gt.txt").write_text(
        "".join(f"{f},1,10,10,20,40,1,1,1\n" for f in range(1, 11)))
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "seq.txt").write_text("".join(f"{f},7,10,10,20,40,1,-1,-1,-1\n" for f in range(1, 5)))

    mota = {}
    for frames in ("all", "present"):
        result = run("mot", tmp_path / "gt", tmp_path / "pred", "--frames", frames, "--json", tmp_path / "s.json")
        assert result.exit_code == 0, result.output
        mota[frames] = json.loads((tmp_path / "s.json").read_text())["COMBINED"]["MOTA"]
    assert mota == {"all": pytest.approx(40.0), "present": 100.0}  # "all": frames 5-10 are 6 misses of 10


def test_vos_writes_json(tmp_path):
    (tmp_path / "masks" / "dog").mkdir(parents=True)
    for frame in sorted((DAVIS / "dog").glob("*.png"))[:3]:
        (tmp_path / "masks" / "dog" / frame.name).symlink_to(frame.resolve())

    result = run("vos", tmp_path / "masks", tmp_path / "masks", "--json", tmp_path / "vos.json")

    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "vos.json").read_text())
    assert saved == {"dog": {"J&F": 100.0, "J": 100.0, "F": 100.0}, "COMBINED": {"J&F": 100.0, "J": 100.0, "F": 100.0}}


def test_sot_writes_json(tmp_path):
    result = run("sot", CROSSING, CROSSING, "--json", tmp_path / "sot.json")

    assert result.exit_code == 0, result.output
    assert "Precision" in result.output
    saved = json.loads((tmp_path / "sot.json").read_text())
    assert saved["COMBINED"]["Precision"] == 100.0
    assert saved["Crossing"]["AUC"] == pytest.approx(100 * 20 / 21)


@pytest.mark.parametrize("command", ["mot", "vos", "sot"])
def test_missing_folder_is_a_one_line_error(tmp_path, command):
    result = run(command, tmp_path / "no-such-gt", tmp_path)

    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "no-such-gt" in lines[0]


def test_malformed_file_is_a_one_line_error(tmp_path):
    (tmp_path / "gt" / "seq" / "gt").mkdir(parents=True)
    (tmp_path / "gt" / "seq" / "gt" / "gt.txt").write_text("1,1,10,10,5,5,1,1,1\n")
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "seq.txt").write_text("this is not a tracker output\n")

    result = run("mot", tmp_path / "gt", tmp_path / "pred")

    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "seq.txt" in lines[0]
