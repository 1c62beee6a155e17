"""A release install works: the wheel of this checkout, installed into a fresh virtual environment (reusing this
environment's packages, no network), runs the ready pipelines from another folder."""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def share_packages(python: Path) -> None:
    """Let the virtual environment of `python` see, after its own packages, those this interpreter sees: the user's
    (where enabled), its environment's and its base interpreter's site-packages, in the order `site` adds them.

    `venv --system-site-packages` would show the base interpreter's packages only, not those of the virtual
    environment the tests may run in (where `pip install -e ".[dev]"` put them). So a .pth file in its site-packages
    adds the folders with `site.addsitedir`, which also runs their .pth files (editable installs, namespace
    packages) and puts a folder on the path once. The same works under the system interpreter, a venv or a conda
    environment."""
    user = [site.getusersitepackages()] if site.ENABLE_USER_SITE else []
    folders = dict.fromkeys([*user, *site.getsitepackages(), *site.getsitepackages([sys.base_prefix])])
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    lines = [f"import site; site.addsitedir({folder!r})\n" for folder in folders if os.path.isdir(folder)]
    (Path(purelib) / "_outer_environment.pth").write_text("".join(lines))


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The `bin` folder of a virtual environment with the wheel of this checkout installed."""
    work = tmp_path_factory.mktemp("install")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(work / "dist"), str(ROOT)], check=True, timeout=300)
    wheel = next((work / "dist").glob("autotrack-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    bin_dir = work / "venv" / "bin"
    share_packages(bin_dir / "python")
    install = ["install", "--ignore-installed", "--no-deps", "--no-index", "-q", str(wheel)]  # not the checkout's
    subprocess.run([str(bin_dir / "python"), "-m", "pip", *install], check=True, timeout=300)
    return bin_dir


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_wheel_is_what_runs(installed, tmp_path):
    located = run(installed, "python", "-c", "import autotrack; print(autotrack.__file__)", cwd=tmp_path)
    assert located.returncode == 0, located.stderr
    assert Path(located.stdout.strip()).is_relative_to(installed.parent), located.stdout


def test_ready_pipelines_work_after_a_release_install(installed, tmp_path):
    listed = run(installed, "autotrack", "pipelines", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines() if not line.startswith("files:")]
    assert {"yolo-sam2", "manual-sam2", "fast-cpu", "edge-cpu", "points-sam2"} <= set(names)

    video = Path(__file__).parents[1] / "examples" / "sample.mp4"  # ships with the repository
    tracked = run(installed, "autotrack", "track", str(video), "-p", "manual-sam2", "--sam-weights", "random",
                  "--imgsz", "64", "--box", "58,156,103,204", "--max-frames", "3", "--mot", "out.txt",
                  "--output", "out.mp4", cwd=tmp_path)
    assert tracked.returncode == 0, tracked.stderr
    rows = (tmp_path / "out.txt").read_text().splitlines()
    assert [row.split(",")[:2] for row in rows] == [["1", "1"], ["2", "1"], ["3", "1"]]
    # FFmpeg's and OpenCV's own messages (a hardware encoder it probes, say) stay out of a normal run
    assert "@ 0x" not in tracked.stderr and "[ERROR" not in tracked.stderr, tracked.stderr


def test_the_console_page_ships_with_the_wheel(installed, tmp_path):
    script = "from autotrack.serve.app import STATIC; print(*sorted(p.name for p in STATIC.iterdir()))"
    listed = run(installed, "python", "-c", script, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert {"index.html", "source.html", "common.js", "index.js", "source.js", "style.css"} <= set(listed.stdout.split())


def test_a_runtime_extra_alone_runs_the_edge_cpu_pipeline():
    """`pip install "autotrack[openvino]"` (or `[onnx]`) alone runs `-p edge-cpu --runtime ...`: the extra names the
    runtime's packages and the extra of the pipeline's model family (an exported EdgeTAM still builds its small torch
    parts with transformers and timm). Reads the metadata only; the install itself is tested by hand."""
    tomllib = pytest.importorskip("tomllib")
    from autotrack.config import load_config
    from autotrack.models.registry import family_of
    from autotrack.runtimes import EXPORTER, RUNTIMES

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    family = family_of(load_config("edge-cpu").sam.model)
    for runtime in RUNTIMES.values():
        names = {re.match(r"[\w.-]+(\[[\w,]+\])?", requirement)[0] for requirement in extras[runtime.extra]}
        assert {runtime.package, *EXPORTER, f"autotrack[{family.extra}]"} <= names
