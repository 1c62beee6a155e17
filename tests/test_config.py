"""The config tree: typed overrides by dotted key, `--set` parsed once, each value checked by the dataclass that holds
it, and errors that name the override or option that caused them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from autotrack.cli import main
from autotrack.cli.options import config_overrides
from autotrack.config import ConfigError, IdentityConfig, SamConfig, load_config, parse_set


def test_typed_overrides_apply_as_given():
    config = load_config("manual-sam2", {"sam.imgsz": 512, "detector.classes": ["person", 0], "device": "cpu",
                                         "identity.overlap_iou": 1})
    assert config.sam.imgsz == 512 and config.device == "cpu" and config.identity.overlap_iou == 1
    assert config.detector.classes == ["person", 0]  # manual-sam2 has `detector: null`: the section is made
    assert config.sam.model == "sam2.1_t"  # what is not overridden comes from the file
    assert load_config("manual-sam2", {"detector": None, "points": {"num_points": 8}}).points.num_points == 8


@pytest.mark.parametrize("overrides, message", [
    ({"sam.imgsz": "512"}, "sam.imgsz='512': sam: imgsz must be int, got '512'"),  # a string is not re-read
    ({"sam.imgsz": 0}, "sam.imgsz=0: sam: imgsz must be a positive integer, got 0"),
    ({"sam.kalman": 1}, "sam.kalman=1: sam: kalman must be bool, got 1"),
    ({"identity.max_lost": True}, "identity: max_lost must be int, got True"),
    ({"sam.precision": "fp8"}, "sam: precision must be one of auto, fp32, bf16, fp16, got 'fp8'"),
    ({"sam.memory": "lru"}, "sam: memory must be one of motion-aware, fifo, got 'lru'"),
    ({"points.backend": "raft"}, "points: backend must be one of lk, cotracker, got 'raft'"),
    ({"sam.imgsze": 64}, "sam.imgsze=64: sam: unknown key(s) ['imgsze']"),
    ({"device": 0}, "device=0: device must be str, got 0"),
    ({"sam.model.size": 1}, "sam.model.size=1: 'model' is not a section"),
])
def test_a_bad_override_is_one_line_naming_it(overrides, message):
    with pytest.raises(ConfigError) as error:
        load_config("manual-sam2", overrides)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_labels_name_an_override_as_the_user_gave_it():
    with pytest.raises(ConfigError, match=r"^--imgsz 0: sam: imgsz must be a positive integer, got 0$"):
        load_config("manual-sam2", {"sam.imgsz": 0}, {"sam.imgsz": "--imgsz 0"})


def test_the_dataclasses_check_their_values_when_built_in_python():
    with pytest.raises(ValueError, match="imgsz must be int, got '512'"):
        SamConfig(imgsz="512")
    with pytest.raises(ValueError, match="precision must be one of"):
        SamConfig(precision="fp64")
    with pytest.raises(ValueError, match="match_iou must be between 0 and 1"):
        IdentityConfig(match_iou=1.5)
    assert SamConfig(imgsz=100).imgsz == 100  # the model family's size rule is the models' to check


def test_identity_config_lives_in_the_config():
    from autotrack import identity

    assert identity.IdentityConfig is IdentityConfig


@pytest.mark.parametrize("item, expected", [
    ("sam.imgsz=512", ("sam.imgsz", 512)),
    ("sam.kalman=false", ("sam.kalman", False)),
    ("detector.classes=[person, 2]", ("detector.classes", ["person", 2])),
    ("device=cuda:1", ("device", "cuda:1")),
    (" identity.max_lost = 60", ("identity.max_lost", 60)),
    ("detector=null", ("detector", None)),
    ("detector.text=a: [", ("detector.text", "a: [")),  # not YAML: kept as text
])
def test_parse_set_reads_the_value_as_yaml(item, expected):
    assert parse_set(item) == expected


@pytest.mark.parametrize("item", ["sam.imgsz", "=512", ""])
def test_parse_set_needs_key_and_value(item):
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_set(item)


def test_options_become_typed_overrides_and_set_wins():
    options = {"pipeline": "manual-sam2", "classes": "person, 2,", "text": "forklift, person in a hard hat",
               "imgsz": 64, "device": None, "precision": "bf16", "sets": ("sam.imgsz=128", "identity.max_lost=5")}
    overrides, labels = config_overrides(options)
    assert overrides == {"detector.classes": ["person", "2"], "detector.text": ["forklift", "person in a hard hat"],
                         "sam.imgsz": 128, "sam.precision": "bf16", "identity.max_lost": 5}
    assert labels["sam.imgsz"] == "--set sam.imgsz=128" and labels["sam.precision"] == "--precision bf16"
    assert labels["detector.classes"] == "--classes person, 2,"
    assert config_overrides({"imgsz": 64}) == ({"sam.imgsz": 64}, {"sam.imgsz": "--imgsz 64"})


@pytest.mark.parametrize("args, expected", [
    (["--imgsz", "0"], "Error: --imgsz 0: sam: imgsz must be a positive integer, got 0"),
    (["--imgsz", "64", "--set", "sam.imgsz=abc"], "Error: --set sam.imgsz=abc: sam: imgsz must be int, got 'abc'"),
    (["--precision", "fp8"], "Error: --precision fp8: sam: precision must be one of auto, fp32, bf16, fp16, got 'fp8'"),
    (["--set", "sam.imgsz"], "Error: --set 'sam.imgsz': expected key=value, e.g. sam.imgsz=512"),
    (["--max-frames", "0"], "Error: --max-frames must be at least 1, got 0"),
])
def test_command_line_errors_name_the_option(args, expected, tmp_path):
    """Checked before the source is opened: the file need not exist."""
    for command in (["track", str(tmp_path / "none.mp4"), "--box", "1,1,9,9"], ["eval", "run", str(tmp_path)]):
        result = CliRunner().invoke(main, [*command, "-p", "manual-sam2", *args])
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines() == [expected], command
