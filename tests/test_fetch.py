"""The data home and ``musicgen data fetch``, against a local HTTP server on 127.0.0.1 that
serves a copy of the data home (the tests never download from the internet)."""
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from musicgen_lib.cli import main
from musicgen_lib.data import home as H
from musicgen_lib.data.fetch import fetch
from musicgen_lib.errors import DataError

from conftest import need


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.root`` with range requests; ``server.breaks[path] = n`` makes the next
    ``n`` responses for ``path`` stop after half their bytes."""

    def do_GET(self):  # noqa: N802
        srv = self.server
        rel = self.path.split("?")[0].lstrip("/")
        from urllib.parse import unquote

        file = srv.root / unquote(rel)
        srv.requests.append((unquote(rel), self.headers.get("Range")))
        if not file.is_file():
            self.send_error(404, "File not found")
            return
        data = file.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.breaks.get(unquote(rel), 0) > 0:
            srv.breaks[unquote(rel)] -= 1
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """A local server of a copy of the data home's jsb and thesis-2018 sources (piano-midi-de
    is served as it is, read-only); yields (url, server)."""
    for name in ("jsb", "thesis-2018", "piano-midi-de"):
        need(name)
    root = tmp_path / "mirror"
    for name in ("jsb", "thesis-2018"):
        shutil.copytree(H.source_folder(name), root / H.sources()[name]["folder"])
    (root / "datasets").mkdir(exist_ok=True)
    os.symlink(H.source_folder("piano-midi-de"), root / "datasets" / "piano-midi-de")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.root, server.requests, server.breaks = root, [], {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server
    server.shutdown()
    server.server_close()


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def test_manifest_matches_the_data_home():
    """Every file of the manifest, as the data home holds it, has the recorded size and SHA-256."""
    for name in H.SOURCES:
        folder = need(name)
        for entry in H.sources()[name]["files"]:
            data = (folder / entry["path"]).read_bytes()
            assert len(data) == entry["size"], entry["path"]
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
    assert len(H.sources()["piano-midi-de"]["files"]) == 340  # 337 MIDI files + 3 documents


def test_data_home_order(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICGEN_DATA", str(tmp_path / "x"))
    assert H.data_home() == tmp_path / "x"
    monkeypatch.delenv("MUSICGEN_DATA")
    shared = H.CHECKOUT.parent / "shared"
    if shared.is_dir():
        assert H.data_home() == shared
    monkeypatch.setattr(H, "CHECKOUT", tmp_path / "no-checkout")
    assert "musicgen" in str(H.data_home()) and H.data_home() != shared


def test_fetch_all_then_nothing(mirror, tmp_path, capsys):
    url, server = mirror
    home = tmp_path / "home"
    assert main(["data", "fetch", "all", "--mirror", url, "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "jsb: 5 files downloaded" in out and "piano-midi-de: 340 files downloaded" in out
    for name in H.SOURCES:
        assert H.missing_files(name, home) == []
        assert _tree(home / H.sources()[name]["folder"]) == \
            {e["path"]: e["size"] for e in H.sources()[name]["files"]}
    n = len(server.requests)
    assert n == 348
    assert main(["data", "fetch", "all", "--mirror", url, "--home", str(home)]) == 0
    assert len(server.requests) == n  # the second run downloads nothing
    assert "0 files downloaded, 340 already present" in capsys.readouterr().out


def test_corrupt_mirror_file_fails_in_one_line_and_leaves_nothing(mirror, tmp_path):
    url, server = mirror
    bad = server.root / "datasets/jsb-chorales/jsb-chorales-8th.json"
    bad.write_bytes(bad.read_bytes()[:-3] + b"]}}")  # same size, other bytes
    home = tmp_path / "home"
    env = {**os.environ, "MUSICGEN_MIRROR": url}
    r = subprocess.run([sys.executable, "-m", "musicgen_lib", "data", "fetch", "jsb",
                        "--home", str(home)], capture_output=True, text=True, env=env)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "jsb-chorales-8th.json: checksum mismatch" in r.stderr
    # the files before it are in place and verified; nothing of the bad one is left
    folder = home / "datasets/jsb-chorales"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "jsb-chorales-quarter.json"]
    # a short file (an HTML error page, say) is refused the same way, in a fresh home
    bad.write_bytes(b"<html>oops</html>")
    with pytest.raises(DataError, match="has 17 bytes, expected"):
        fetch(["jsb"], home=tmp_path / "fresh", mirror=url, progress=False)
    assert sorted(p.name for p in (tmp_path / "fresh/datasets/jsb-chorales").iterdir()) == \
        ["README.md", "jsb-chorales-quarter.json"]


def test_interrupted_transfer_resumes(mirror, tmp_path):
    url, server = mirror
    rel = "reference/thesis-2018/greats-model.pt"
    server.breaks[rel] = 1  # the first response stops half-way; the retry asks for the rest
    home = tmp_path / "home"
    r = fetch(["thesis-2018"], home=home, mirror=url, progress=False)
    assert len(r.downloaded["thesis-2018"]) == 3
    ranges = [rg for p, rg in server.requests if p == rel]
    assert ranges[0] is None and ranges[1].startswith("bytes=") and int(ranges[1][6:-1]) > 0
    assert H.missing_files("thesis-2018", home) == []

    # every attempt of a run broken: one line, the part kept; the next run resumes from it
    home2 = tmp_path / "home2"
    server.breaks[rel] = 3
    with pytest.raises(DataError, match="broken off .* run the command again to resume"):
        fetch(["thesis-2018"], home=home2, mirror=url, progress=False)
    part = home2 / "reference/thesis-2018/.greats-model.pt.part"
    assert part.is_file() and 0 < part.stat().st_size < H.sources()["thesis-2018"]["files"][0]["size"]
    kept = part.stat().st_size
    server.requests.clear()
    fetch(["thesis-2018"], home=home2, mirror=url, progress=False)
    assert not part.exists() and H.missing_files("thesis-2018", home2) == []
    assert (rel, f"bytes={kept}-") in server.requests
    assert (home2 / "reference/thesis-2018/greats-model.pt").read_bytes() == \
        (H.source_folder("thesis-2018") / "greats-model.pt").read_bytes()


def test_http_error_and_no_network_are_one_line(mirror, tmp_path):
    url, _ = mirror
    home = tmp_path / "home"
    with pytest.raises(DataError, match=r"README.md: HTTP 404"):
        fetch(["jsb"], home=home, mirror=url + "/nope", progress=False)
    assert not home.exists()
    with pytest.raises(DataError, match="cannot connect"):
        fetch(["jsb"], home=home, mirror="http://127.0.0.1:9", progress=False, timeout=5)
    assert not home.exists()
    assert main(["data", "fetch", "nothing", "--home", str(home)]) == 2


def test_missing_data_names_the_fetch_command(tmp_path):
    env = {**os.environ, "MUSICGEN_DATA": str(tmp_path / "empty")}
    env.pop("MUSICGEN_MIRROR", None)
    for args in (["data", "stats", "--dataset", "jsb"],
                 ["data", "stats", "--dataset", "piano-midi-de"]):
        r = subprocess.run([sys.executable, "-m", "musicgen_lib", *args],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 2
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert f"musicgen data fetch {args[-1]}" in r.stderr
    r = subprocess.run([sys.executable, "-m", "musicgen_lib", "data", "home"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "absent" in r.stdout
    assert json.loads(json.dumps(H.sources()))  # the manifest is plain JSON
