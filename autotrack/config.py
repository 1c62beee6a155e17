"""One typed configuration tree for a pipeline: YAML in, `--set a.b=c` overrides, clear errors for bad keys.

A pipeline file has up to five sections, each optional (defaults below):
    detector: {weights: yolo11n.pt, classes: [person], conf: 0.25, imgsz: 640, every: 1}   # or `detector: null`
    detector: {weights: yoloe-11s-seg.pt, text: [forklift, person in a hard hat]}          # open vocabulary
    sam: {model: sam2.1_t, weights: null, imgsz: 1024, memory: motion-aware, kalman: true, precision: auto,
          compile: false}      # model: sam2_t/s/b/l, sam2.1_t/s/b/l or edgetam
    points: {backend: lk, num_points: 16, num_negatives: 4, min_visible: null}   # default `points: null`: none
    identity: {max_lost: 30, ...}      # autotrack.identity.IdentityConfig
    device: auto
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import yaml

from autotrack.errors import AutotrackError
from autotrack.identity import IdentityConfig
from autotrack.engine.precision import check_precision

BUILTIN_DIR = files("autotrack") / "pipelines"  # package data: present in a wheel install as in a checkout
DEFAULT_PIPELINE = "yolo-sam2"
POINT_BACKENDS = ("lk", "cotracker")


class ConfigError(AutotrackError, ValueError):
    """A pipeline file or override is malformed; the message says where."""


@dataclass
class DetectorConfig:
    """The detector: YOLO, or YOLOE / YOLO-World when `text` is set or the weights name one."""

    weights: str = "yolo11n.pt"
    classes: list | None = None  # a closed-set model's classes to keep
    conf: float = 0.25
    imgsz: int = 640
    every: int = 1
    text: list | str | None = None  # an open-vocabulary model's class names (a list, or one string "a, b")

    def __post_init__(self) -> None:
        if not 0.0 <= self.conf <= 1.0:
            raise ValueError(f"conf must be between 0 and 1, got {self.conf}")
        if self.imgsz < 32 or self.every < 1:
            raise ValueError(f"imgsz must be at least 32 and every at least 1, got {self.imgsz} and {self.every}")


@dataclass
class SamConfig:
    model: str = "sam2.1_t"
    weights: str | None = None
    imgsz: int = 1024
    memory: str = "motion-aware"
    kalman: bool = True
    precision: str = "auto"  # auto, fp32, bf16, fp16 (autotrack.engine.precision)
    compile: bool = False  # torch.compile the image encoder and memory attention

    def __post_init__(self) -> None:
        if self.imgsz < 32 or self.imgsz % 32:
            raise ValueError(f"imgsz must be a positive multiple of 32, got {self.imgsz}")
        check_precision(self.precision)


@dataclass
class PointsConfig:
    """The point tracker (`autotrack.points.tracker.PointTracker`): points follow each object so SAM2 can be
    re-prompted from them when its scores stay low and no detection helps."""

    backend: str = "lk"  # lk (OpenCV Lucas-Kanade) or cotracker (CoTracker3 online, torch.hub)
    num_points: int = 16  # positive points per object
    num_negatives: int = 4  # negative points per object, on nearby other objects
    min_visible: int | None = None  # re-seed from the mask below this many visible positives (num_points // 2)

    def __post_init__(self) -> None:
        if self.backend not in POINT_BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(POINT_BACKENDS)}, got {self.backend!r}")
        if self.num_points < 1 or self.num_negatives < 0:
            raise ValueError(f"num_points must be >= 1 and num_negatives >= 0, got {self.num_points}, "
                             f"{self.num_negatives}")
        if self.min_visible is not None and type(self.min_visible) is not int:
            raise ValueError(f"min_visible must be an integer or null, got {self.min_visible!r}")


@dataclass
class PipelineConfig:
    name: str = "custom"
    detector: DetectorConfig | None = field(default_factory=DetectorConfig)
    sam: SamConfig = field(default_factory=SamConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    points: PointsConfig | None = None
    device: str = "auto"


_SECTIONS = {"detector": DetectorConfig, "sam": SamConfig, "identity": IdentityConfig, "points": PointsConfig}
_OPTIONAL = ("detector", "points")  # sections that may be `null`: no detector, no point tracker


def builtin_pipelines() -> dict[str, Path]:
    """Ready pipelines shipped with the package (`autotrack/pipelines/*.yaml`), by name."""
    paths = sorted((Path(str(entry)) for entry in BUILTIN_DIR.iterdir()), key=lambda path: path.name)
    return {path.stem: path for path in paths if path.suffix == ".yaml"}


def find_pipeline(name_or_path: str) -> Path:
    """A built-in pipeline name, or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"pipeline file not found: {path}")
        return path
    pipelines = builtin_pipelines()
    if name_or_path not in pipelines:
        raise ConfigError(f"unknown pipeline {name_or_path!r}; choose one of {', '.join(pipelines)} or a YAML path")
    return pipelines[name_or_path]


def load_config(name_or_path: str = DEFAULT_PIPELINE, overrides: list[str] = ()) -> PipelineConfig:
    """Read a pipeline file and apply `key.sub=value` overrides (values parsed as YAML: 512, false, [a, b])."""
    path = find_pipeline(name_or_path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"pipeline file {path} is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"pipeline file {path} must hold a mapping of sections")
    data.setdefault("name", path.stem)
    config = from_dict(copy.deepcopy(data), where=str(path))
    for item in overrides:  # one at a time, so an error names the override that caused it, not the file
        _apply_override(data, item)
        config = from_dict(copy.deepcopy(data), where=f"--set {item}")
    return config


def from_dict(data: dict, where: str = "config") -> PipelineConfig:
    """Build a PipelineConfig from plain data, refusing unknown keys and values of the wrong type."""
    values = _check_keys(data, PipelineConfig, where)
    for name, section in _SECTIONS.items():
        if name not in values:
            continue
        if values[name] is None and name in _OPTIONAL:
            continue
        if not isinstance(values[name], dict):
            raise ConfigError(f"{where}: section {name!r} must be a mapping")
        checked = _check_keys(values[name], section, f"{where}: {name}")
        try:
            values[name] = section(**checked)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{where}: {name}: {error}") from None
    return PipelineConfig(**values)


def _check_keys(data: dict, cls, where: str) -> dict:
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {', '.join(known)}")
    for name, value in data.items():
        default = known[name].default
        if isinstance(default, (bool, int, float, str)) and value is not None and name not in _SECTIONS:
            expected = float if isinstance(default, float) else type(default)
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                continue
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(f"{where}: {name} must be {expected.__name__}, got {value!r}")
    return dict(data)


def _apply_override(data: dict, item: str) -> None:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. sam.imgsz=512")
    key, text = item.split("=", 1)
    parts = key.strip().split(".")
    node = data
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            raise ConfigError(f"--set {item!r}: {part!r} is not a section")
    try:
        node[parts[-1]] = yaml.safe_load(text)
    except yaml.YAMLError:
        node[parts[-1]] = text
