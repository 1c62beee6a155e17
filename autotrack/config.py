"""One typed configuration tree for a pipeline: YAML in, `--set a.b=c` overrides, clear errors for bad keys.

A pipeline file has up to four sections, each optional (defaults below):
    detector: {weights: yolo11n.pt, classes: [person], conf: 0.25, imgsz: 640, every: 1}   # or `detector: null`
    sam: {model: sam2.1_t, weights: null, imgsz: 1024, memory: motion-aware, kalman: true}
    identity: {max_lost: 30, ...}      # autotrack.identity.IdentityConfig
    device: auto
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from autotrack.identity import IdentityConfig

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "pipelines"
DEFAULT_PIPELINE = "yolo-sam2"


class ConfigError(ValueError):
    """A pipeline file or override is malformed; the message says where."""


@dataclass
class DetectorConfig:
    weights: str = "yolo11n.pt"
    classes: list | None = None
    conf: float = 0.25
    imgsz: int = 640
    every: int = 1


@dataclass
class SamConfig:
    model: str = "sam2.1_t"
    weights: str | None = None
    imgsz: int = 1024
    memory: str = "motion-aware"
    kalman: bool = True


@dataclass
class PipelineConfig:
    name: str = "custom"
    detector: DetectorConfig | None = field(default_factory=DetectorConfig)
    sam: SamConfig = field(default_factory=SamConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    device: str = "auto"


_SECTIONS = {"detector": DetectorConfig, "sam": SamConfig, "identity": IdentityConfig}


def builtin_pipelines() -> dict[str, Path]:
    """Ready pipelines shipped in `pipelines/`, by name."""
    return {path.stem: path for path in sorted(BUILTIN_DIR.glob("*.yaml"))}


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
    for item in overrides:
        _apply_override(data, item)
    data.setdefault("name", path.stem)
    return from_dict(data, where=str(path))


def from_dict(data: dict, where: str = "config") -> PipelineConfig:
    """Build a PipelineConfig from plain data, refusing unknown keys and values of the wrong type."""
    values = _check_keys(data, PipelineConfig, where)
    for name, section in _SECTIONS.items():
        if name not in values:
            continue
        if values[name] is None and name == "detector":
            continue
        if not isinstance(values[name], dict):
            raise ConfigError(f"{where}: section {name!r} must be a mapping")
        try:
            values[name] = section(**_check_keys(values[name], section, f"{where}: {name}"))
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
