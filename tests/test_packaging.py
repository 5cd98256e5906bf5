"""The wheel holds what pyproject.toml declares: the shipped recipes and label maps, usable by name once installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_recipes_and_label_maps_and_loads_a_recipe_by_name(tmp_path):
    project = tmp_path / "project"  # a copy: the in-tree build leaves build/ and *.egg-info behind
    project.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "recipes", project / "recipes")
    shutil.copytree(ROOT / "src", project / "src", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(project)], check=True, env=env, capture_output=True)
    wheel = next((tmp_path / "dist").glob("emomtl-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (ROOT / "recipes").glob("*.yaml")}
    assert shipped and {f"emomtl/recipes/{name}" for name in shipped} <= names
    label_maps = {p.name for p in (ROOT / "src/emomtl/data/label_maps").glob("*.yaml")}
    assert label_maps and {f"emomtl/data/label_maps/{name}" for name in label_maps} <= names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # the dependencies come from the test's own environment (appended after the venv's own packages)
    Path(purelib, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, env=env, capture_output=True)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    code = ("import emomtl.config as c; r = c.load_recipe('quickstart'); "
            "print(c.find_recipe('quickstart')); print(r['name'], r['model']['name'])")
    out = subprocess.run([str(python), "-c", code], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout
    path, loaded = out.strip().splitlines()
    assert Path(path).is_relative_to(Path(purelib)) and loaded.startswith("quickstart ")
