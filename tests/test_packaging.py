"""Seedscope installs as `seedscope`, never as `lib` (llama-cpp-python owns site-packages/lib/).

The slow test builds a fresh virtual environment, installs the checkout into it the way a user
would (`pip install .`, not editable) and runs the console script from a directory outside the
checkout, where `import lib` used to pick up llama-cpp-python's folder instead of ours.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "lib"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_listed_under_its_seedscope_name() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"seedscope": "lib"}
    folders = {
        ".".join(("seedscope", *init.parent.relative_to(PACKAGE_DIR).parts))
        for init in PACKAGE_DIR.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert set(setuptools["packages"]) == folders


def test_console_script_and_module_entry_point() -> None:
    assert _pyproject()["project"]["scripts"] == {"seedscope": "seedscope.cli:main"}
    assert (PACKAGE_DIR / "__main__.py").is_file()


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(venv, an empty working directory) with the checkout pip-installed (not editable)."""
    venv = tmp_path_factory.mktemp("venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # CPU torch first, as the Makefile does (a bare requirement would pull a CUDA build).
    _run([*pip, "torch==2.13.0"], cwd=ROOT, env=env)
    # And llama-cpp-python from the portable build the Makefile installs (built once, cached).
    _run(
        ["bash", str(ROOT / "scripts" / "install_llama.sh"), str(venv / "bin" / "python")],
        ROOT,
        env,
    )
    _run([*pip, str(ROOT)], cwd=ROOT, env=env)
    return venv, tmp_path_factory.mktemp("elsewhere")


def _site_packages(venv: Path) -> Path:
    (found,) = (venv / "lib").glob("python3*/site-packages")
    return found


def test_nothing_of_seedscope_lands_in_site_packages_lib(installed: tuple[Path, Path]) -> None:
    venv, _ = installed
    site = _site_packages(venv)
    assert (site / "seedscope" / "store" / "migrations" / "script.py.mako").is_file()
    ours = {path.name for path in PACKAGE_DIR.iterdir() if path.suffix == ".py" or path.is_dir()}
    ours -= {"__pycache__"}
    llama_lib = site / "lib"
    if llama_lib.exists():  # llama-cpp-python's shared libraries; none of our modules
        assert not ours & {path.name for path in llama_lib.iterdir()}
    (record,) = site.glob("seedscope-*.dist-info/RECORD")
    assert not [line for line in record.read_text().splitlines() if line.startswith("lib/")]


def test_installed_console_script_runs_outside_the_checkout(installed: tuple[Path, Path]) -> None:
    venv, elsewhere = installed
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env |= {
        "SEEDSCOPE_DATABASE_URL": f"sqlite:///{elsewhere / 'history.db'}",
        "HF_HUB_OFFLINE": "1",
    }
    seedscope = str(venv / "bin" / "seedscope")
    assert "no experiments stored yet" in _run([seedscope, "history"], cwd=elsewhere, env=env)
    output = _run(
        [seedscope, "compare", "--runs", "2", "--max-tokens", "8"], cwd=elsewhere, env=env
    )
    assert "experiment " in output
    listed = _run([str(venv / "bin" / "python"), "-m", "seedscope", "history"], elsewhere, env)
    assert "complete" in listed
