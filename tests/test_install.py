"""The library outside the checkout: ``pip install --no-deps .`` into a fresh target, run from
another folder with no data home and no network, samples with the model shipped inside the
package."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from musicgen_lib.data import read_midi

ROOT = Path(__file__).resolve().parents[1]


def test_installed_package_samples_from_anywhere(tmp_path):
    target, work, source = tmp_path / "site", tmp_path / "elsewhere", tmp_path / "source"
    work.mkdir()
    # a copy of the sources, so that setuptools' build/ folder is not left in the checkout
    shutil.copytree(ROOT / "musicgen_lib", source / "musicgen_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (target / "musicgen_lib/bundled/thesis-chorales/generator/model.pt").is_file()
    assert (target / "musicgen_lib/data/sources.json").is_file()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICGEN_")}
    env.update(PYTHONPATH=str(target), HOME=str(tmp_path), MUSICGEN_CACHE=str(tmp_path / "cache"),
               # no proxy and no route: anything that tried the network would fail
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    where = subprocess.run([sys.executable, "-c", "import musicgen_lib; print(musicgen_lib.__file__)"],
                           capture_output=True, text=True, cwd=work, env=env)
    assert where.stdout.strip().startswith(str(target)), where.stdout + where.stderr
    r = subprocess.run([str(target / "bin" / "musicgen"), "sample", "--steps", "32",
                        "--out", "x.mid"], capture_output=True, text=True, cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    notes = read_midi(work / "x.mid")
    assert len(notes.pitch) > 10
    # the data home of an installed package is the user's data folder, not a checkout's ../shared
    r = subprocess.run([str(target / "bin" / "musicgen"), "data", "home"], capture_output=True,
                       text=True, cwd=work, env=env)
    assert r.returncode == 0 and str(tmp_path) in r.stdout and "shared" not in r.stdout, r.stdout
