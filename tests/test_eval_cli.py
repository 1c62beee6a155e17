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
