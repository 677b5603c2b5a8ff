"""The layout rule of DESIGN.md: inspect/ is imported as checkonce, the standard library's
inspect stays reachable from the repo root, and an installed wheel works on its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_inspect_folder_has_no_init():
    assert not (ROOT / "inspect" / "__init__.py").exists()


def test_import_inspect_from_repo_root_is_the_standard_library():
    code = (
        "import inspect, sysconfig; print(inspect.__file__); print(hasattr(inspect, 'signature'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    stdlib = Path(__import__("sysconfig").get_paths()["stdlib"]).resolve()
    assert Path(out[0]).resolve().parent == stdlib
    assert out[1] == "True"


def test_every_subpackage_is_declared_in_pyproject():
    declared = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        "checkonce." + ".".join(p.parent.relative_to(ROOT / "inspect").parts)
        for p in (ROOT / "inspect").rglob("__init__.py")
    }
    missing = found - declared
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


@pytest.mark.slow
def test_installed_wheel_works_outside_the_repo(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "var",
            "out",
            "build",
            "*.egg-info",
            "__pycache__",
            ".pytest_cache",
            ".hypothesis",
            "benchmarks",
        ),
    )
    wheels = tmp_path / "wheels"
    # With build isolation, as a packager builds it (pyproject's build requirements).
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(wheels),
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("checkonce-*.whl"))
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(target),
        "CHECKONCE_DATABASE_URL": f"sqlite:///{tmp_path / 'wheel.db'}",
    }
    probe = (
        "import checkonce.config, checkonce.migrations, inspect;"
        "print(checkonce.config.__file__); print(checkonce.config.packaged_data_dir());"
        "print(inspect.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0].startswith(str(target)), "checkonce must come from the wheel, not the repo"
    assert (Path(out[1]) / "policy.toml").exists() and (Path(out[1]) / "departments.json").exists()
    assert not out[2].startswith(str(target))
    result = subprocess.run(
        [sys.executable, "-m", "checkonce", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "wheel.db").exists()
