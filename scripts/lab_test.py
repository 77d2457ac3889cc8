#!/usr/bin/env python3
"""Run notebooks live in JupyterLab, driven through headless Chromium, and check them.

Starts JupyterLab (the venv's, run by this Python: its ``python3`` kernelspec then launches
this same Python as the kernel) headless on 127.0.0.1, on a free port, with a random token,
with its configuration, runtime, data, settings and workspace folders in a temporary folder
(the user's own Jupyter settings are never read or written). Lab's root is a temporary copy
of ``notebooks/``, so the committed notebooks are never touched; the notebooks find the data
and checkpoints through the library (the data home), and the copy is laid out as in the
checkout (``../checkpoints`` a link to the repository's checkpoints, ``../../shared`` one to
the shared folder beside it) so that a path read relative to a notebook resolves as there.
Then, in the browser, through Lab's own menus:

1. ``11_play.ipynb``: clear the outputs, Run > Run All Cells, wait until every code cell has
   run and the kernel is idle; the kernel is this Python (``sys.executable``, asked with a
   silent user expression); no cell shows an error; the ipywidgets app rendered (model and
   prime dropdowns, seed, Generate button, and the first sample's audio player and piano
   roll); then pick another model (``--model``) and seed (``--seed``), press Generate, and
   check that a new ``<audio>`` player with a finite duration > 0 and a new piano-roll image
   appear, with the summary of that model and seed, and no error; ``--screenshot`` saves the
   window then.
2. ``03_rnn_rbm.ipynb``: the same run of every cell, top to bottom (a few minutes:
   ``--timeout``), and no cell shows an error.

"No error" means: no error output (a traceback) in the page nor in the notebook saved (into the
temporary copy) after the run, and no stderr output that reads like one; other stderr lines
are printed as notes. Requests that would leave the machine are blocked and fail the test.

The server (and its kernels) is always stopped at the end, on failure too: Lab's shutdown
request, then its process group is terminated.

Exit status: 0 when every check passes, 1 when one failed (the message says which), 2 when the
browser, playwright or the notebooks are missing.

Usage: python scripts/lab_test.py [--browser /usr/bin/chromium] [--timeout 900]
       [--screenshot lab.png] [--model review-jsb/rnn-rbm] [--seed 7] [-v]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_test import chromium_path  # noqa: E402  (the same Chromium lookup)

REPO = Path(__file__).resolve().parents[1]
PLAY = "11_play.ipynb"
LONG = "03_rnn_rbm.ipynb"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync"]
# Lab's settings for the run: every cell stays in the page (no windowing, so that every
# prompt and output can be read), and no news or update checks (nothing leaves the machine).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}
# A stderr output that is an error, not a warning.
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception)\b", re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Failure(Exception):
    """A check failed: the message says which."""


def say(status: str, text: str) -> None:
    print(f"{status:<4} {text}", flush=True)


# ---------------------------------------------------------------- the server

class Lab:
    """JupyterLab on 127.0.0.1 in a temporary folder; :meth:`stop` always ends it."""

    def __init__(self, notebooks: Path):
        self.tmp = Path(tempfile.mkdtemp(prefix="musicgen-lab-"))
        self.root = self._tree(notebooks)
        self.token = secrets.token_hex(24)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.runtime = self.tmp / "runtime"
        self.log_path = self.tmp / "lab.log"
        self.proc: subprocess.Popen | None = None

    def _tree(self, notebooks: Path) -> Path:
        """<tmp>/repo/notebooks (a copy), <tmp>/repo/checkpoints and <tmp>/shared (links)."""
        repo = self.tmp / "repo"
        repo.mkdir()
        root = repo / "notebooks"
        shutil.copytree(notebooks, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        (repo / "checkpoints").symlink_to(REPO / "checkpoints", target_is_directory=True)
        shared = REPO.parent / "shared"
        if shared.is_dir():
            (self.tmp / "shared").symlink_to(shared, target_is_directory=True)
        return root

    def start(self, startup_timeout: float = 120.0) -> None:
        settings = self.tmp / "lab-settings"
        for rel, values in LAB_SETTINGS.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(os.environ)
        env.update({
            "JUPYTER_CONFIG_DIR": str(self.tmp / "config"),
            "JUPYTER_DATA_DIR": str(self.tmp / "data"),  # user kernelspecs, notebook secret
            "JUPYTER_RUNTIME_DIR": str(self.runtime),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.tmp / "workspaces"),
            "IPYTHONDIR": str(self.tmp / "ipython"),
            "JUPYTER_PREFER_ENV_PATH": "1",  # the venv's kernelspec before any other
        })
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser",
               "--ServerApp.open_browser=False", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--notebook-dir={self.root}",
               "--ServerApp.terminals_enabled=False"]
        if os.getuid() == 0:
            cmd.append("--allow-root")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.tmp, env=env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"JupyterLab exited with status {self.proc.returncode}:\n"
                              + self.log_tail())
            try:
                self.api("GET", "/api/status")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.3)
        raise Failure(f"JupyterLab did not answer within {startup_timeout:.0f} s:\n"
                      + self.log_tail())

    def url(self, path: str) -> str:
        return f"{self.base}{path}?token={self.token}"

    def api(self, method: str, path: str, timeout: float = 10.0):
        req = urllib.request.Request(self.base + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def session(self, name: str) -> dict:
        for s in self.api("GET", "/api/sessions"):
            if s.get("path") == name and s.get("kernel"):
                return s
        raise Failure(f"{name}: no kernel session on the server")

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join("    " + line for line in lines[-n:])

    def stop(self) -> None:
        """Lab's own shutdown (which shuts its kernels down), then the process group; any
        kernel of this server still alive (found by its connection file in our runtime
        folder) is killed by its id; the temporary folder is removed."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                self.api("POST", "/api/shutdown", timeout=5)
                proc.wait(20)
            except Exception:
                pass
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                if proc.poll() is not None:
                    break
                try:
                    os.killpg(proc.pid, sig)
                    proc.wait(wait)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        if proc is not None:
            try:  # the group's leftovers (the server is gone)
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in self._our_kernels():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _our_kernels(self) -> list[int]:
        """Live processes whose command line names a connection file in our runtime folder."""
        mark = str(self.runtime).encode()
        pids = []
        for d in Path("/proc").glob("[0-9]*"):
            try:
                if mark in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                continue
        return [p for p in pids if p != os.getpid()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernel_python(lab: Lab, name: str) -> tuple[str, str]:
    """(sys.executable, sys.prefix) of the kernel running notebook ``name``, asked through a
    silent user expression (no output, no execution count in the notebook)."""
    from jupyter_client import BlockingKernelClient

    s = lab.session(name)
    conn = lab.runtime / f"kernel-{s['kernel']['id']}.json"
    kc = BlockingKernelClient(connection_file=str(conn))
    kc.load_connection_file()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30)
        expr = "__import__('json').dumps([__import__('sys').executable, __import__('sys').prefix])"
        reply = kc.execute_interactive("", silent=True, store_history=False,
                                       user_expressions={"v": expr}, timeout=30)
        value = reply["content"]["user_expressions"]["v"]
        if value.get("status") != "ok":
            raise Failure(f"{name}: the kernel did not say which Python it is: {value}")
        import ast
        return tuple(json.loads(ast.literal_eval(value["data"]["text/plain"])))
    finally:
        kc.stop_channels()


# ---------------------------------------------------------------- the page

# The state of the notebook on show: its code cells' prompts, the kernel's status, outputs.
NOTEBOOK_STATE_JS = """
() => {
  const panel = Array.from(document.querySelectorAll('.jp-NotebookPanel'))
    .find(p => p.offsetParent !== null);
  if (!panel) return null;
  const cells = Array.from(panel.querySelectorAll('.jp-Notebook .jp-Cell.jp-CodeCell'));
  const ind = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const stderr = Array.from(panel.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    .map(o => {
      const cell = o.closest('.jp-Cell');
      return {cell: cells.indexOf(cell) + 1, text: o.textContent.slice(0, 4000)};
    });
  return {
    prompts: cells.map(c => {
      const p = c.querySelector('.jp-InputArea-prompt');
      return p ? p.textContent.trim() : '';
    }),
    kernel: ind ? ind.getAttribute('data-status') : null,
    dirty: !!document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty'),
    stderr,
  };
}
"""

# The PlayApp's widgets in the notebook on show (and its output widget's media).
PLAY_STATE_JS = """
() => {
  const panel = Array.from(document.querySelectorAll('.jp-NotebookPanel'))
    .find(p => p.offsetParent !== null);
  if (!panel) return null;
  const button = Array.from(panel.querySelectorAll('.widget-button'))
    .find(b => b.textContent.trim() === 'Generate');
  const app = button ? button.closest('.widget-vbox') : null;
  if (!app) return {app: false};
  const out = app.querySelector('.jupyter-widgets-output-area, .widget-output');
  return {
    app: true,
    selects: Array.from(app.querySelectorAll('.widget-dropdown select')).map(s => ({
      value: s.selectedIndex >= 0 ? s.options[s.selectedIndex].textContent : null,
      options: Array.from(s.options).map(o => o.textContent)})),
    seed: (app.querySelector('.widget-text input[type=number]') || {}).value,
    buttonDisabled: button.disabled,
    sliders: app.querySelectorAll('.widget-slider, .widget-hslider').length,
    labels: Array.from(app.querySelectorAll('.widget-label')).map(l => l.textContent),
    outText: out ? out.innerText.slice(0, 2000) : null,
    audio: out ? Array.from(out.querySelectorAll('audio')).map(a => ({
      old: a.dataset.labTestOld === '1', duration: a.duration, readyState: a.readyState,
      error: a.error ? a.error.code : null})) : [],
    images: out ? Array.from(out.querySelectorAll('img')).map(i => ({
      old: i.dataset.labTestOld === '1', width: i.naturalWidth, complete: i.complete})) : [],
  };
}
"""

MARK_OLD_JS = """
() => document.querySelectorAll('.jp-NotebookPanel audio, .jp-NotebookPanel img')
  .forEach(e => { e.dataset.labTestOld = '1'; })
"""


def notebook_state(page) -> dict:
    state = page.evaluate(NOTEBOOK_STATE_JS)
    if state is None:
        raise Failure("no notebook on show in JupyterLab")
    return state


def menu(page, top: str, command: str) -> None:
    """Click Lab's menu ``top`` and then its item for ``command`` (Lumino's data-command)."""
    page.keyboard.press("Escape")
    page.locator("#jp-menu-panel .lm-MenuBar-item", has_text=re.compile(f"^{top}$")).click()
    item = page.locator(f'.lm-Menu .lm-Menu-item[data-command="{command}"]')
    item.wait_for(state="visible", timeout=10_000)
    item.click()


def open_notebook(page, lab: Lab, name: str, workspace: str, timeout: float) -> None:
    """Open ``name`` in a fresh Lab workspace and wait for its kernel to be idle."""
    page.goto(lab.url(f"/lab/workspaces/{workspace}/tree/{name}"), wait_until="load",
              timeout=timeout * 1000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-CodeCell",
                           timeout=timeout * 1000)
    # The page shows "idle" before its kernel is there: wait for the server's session, its
    # kernel idle with the page connected, and then the page idle for a while.
    deadline = time.monotonic() + timeout
    while True:
        sessions = [x for x in lab.api("GET", "/api/sessions")
                    if x.get("path") == name and x.get("kernel")]
        k = sessions[0]["kernel"] if sessions else {}
        if k.get("execution_state") == "idle" and k.get("connections", 0) >= 1:
            break
        if time.monotonic() > deadline:
            raise Failure(f"{name}: the kernel did not start within {timeout:.0f} s ({k})")
        page.wait_for_timeout(300)
    since = time.monotonic()
    while time.monotonic() - since < 2:
        if notebook_state(page)["kernel"] != "idle":
            since = time.monotonic()
        if time.monotonic() > deadline:
            raise Failure(f"{name}: the page's kernel is not idle within {timeout:.0f} s")
        page.wait_for_timeout(200)
    # Lab's news toast, or anything else popped up, must not cover the page.
    for close in page.locator(".Toastify__close-button").all():
        close.click()
    page.locator(".jp-NotebookPanel .jp-Notebook").first.click(position={"x": 5, "y": 5})


def wait_for(page, ok, timeout: float, message: str, poll: float = 0.5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = notebook_state(page)
        if ok(state):
            return state
        if time.monotonic() > deadline:
            raise Failure(f"{message} within {timeout:.0f} s (prompts {state['prompts']}, "
                          f"kernel {state['kernel']})")
        page.wait_for_timeout(poll * 1000)


def run_all(page, name: str, timeout: float) -> float:
    """Clear every output, Run All Cells from the menu, and wait until every code cell ran
    and the kernel is idle; fail at once when the run stopped on an error. Seconds taken."""
    menu(page, "Edit", "editmenu:clear-all")
    wait_for(page, lambda s: not any(re.fullmatch(r"\[\d+\]:", p) for p in s["prompts"]), 30,
             f"{name}: the outputs were not cleared")
    start = time.monotonic()
    menu(page, "Run", "runmenu:run-all")
    wait_for(page, lambda s: s["kernel"] != "idle" or "[*]:" in s["prompts"]
             or all(re.fullmatch(r"\[\d+\]:", p) for p in s["prompts"]), 30,
             f"{name}: Run All Cells did not start")
    idle_since = None
    while True:
        page.wait_for_timeout(1000)
        s = notebook_state(page)
        ran = [bool(re.fullmatch(r"\[\d+\]:", p)) for p in s["prompts"]]
        busy = s["kernel"] != "idle" or "[*]:" in s["prompts"]
        errors = [e for e in s["stderr"] if ERROR_TEXT.search(ANSI.sub("", e["text"]))]
        if errors:
            raise Failure(f"{name}: cell {errors[0]['cell']} shows an error:\n"
                          + indent(errors[0]["text"]))
        if all(ran) and not busy:
            return time.monotonic() - start
        if not busy:  # idle with cells left: the run stopped; wait a little to be sure
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 10:
                left = [i + 1 for i, r in enumerate(ran) if not r]
                raise Failure(f"{name}: the run stopped with code cells {left} not run")
        else:
            idle_since = None
        if time.monotonic() - start > timeout:
            raise Failure(f"{name}: not finished after {timeout:.0f} s (--timeout); "
                          f"prompts {s['prompts']}")


def plain(text: str | None) -> str:
    """Widget text as typed (ipywidgets shows option labels with no-break spaces)."""
    return (text or "").replace("\xa0", " ")


def indent(text: str, n: int = 40) -> str:
    lines = ANSI.sub("", text).strip().splitlines()
    if len(lines) > n:
        lines = lines[:5] + ["..."] + lines[-(n - 6):]
    return "\n".join("    " + line for line in lines)


def check_outputs(page, lab: Lab, name: str) -> None:
    """No error output in the page nor in the saved notebook; stderr printed as notes."""
    s = notebook_state(page)
    for e in s["stderr"]:
        text = ANSI.sub("", e["text"])
        if ERROR_TEXT.search(text):
            raise Failure(f"{name}: cell {e['cell']} shows an error:\n" + indent(text))
        say("note", f"{name}: cell {e['cell']} wrote to stderr: {text.strip()[:200]}")
    # Save the (temporary) copy and read the outputs Lab holds for it.
    menu(page, "File", "docmanager:save")
    wait_for(page, lambda st: not st["dirty"], 30, f"{name}: the notebook was not saved")
    nb = lab.api("GET", f"/api/contents/{name}?content=1&type=notebook")["content"]
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for i, c in enumerate(code, 1):
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                raise Failure(f"{name}: code cell {i} has an error output: {o.get('ename')}: "
                              f"{o.get('evalue')}\n" + indent("\n".join(o.get("traceback", []))))
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                if ERROR_TEXT.search(ANSI.sub("", "".join(o.get("text", "")))):
                    raise Failure(f"{name}: code cell {i} wrote an error to stderr:\n"
                                  + indent("".join(o["text"])))
    if any(c.get("execution_count") is None for c in code):
        raise Failure(f"{name}: the saved notebook has code cells that did not run")
    say("ok", f"{name}: {len(code)} code cells ran, no error output (page and saved notebook)")


def check_kernel(lab: Lab, name: str) -> None:
    exe, prefix = kernel_python(lab, name)
    spec = lab.session(name)["kernel"]["name"]
    if Path(exe) != Path(sys.executable) or Path(prefix) != Path(sys.prefix):
        raise Failure(f"{name}: the kernel ({spec}) runs {exe} (prefix {prefix}), "
                      f"not this environment's {sys.executable} (prefix {sys.prefix})")
    say("ok", f"{name}: kernel {spec!r} is this environment's Python: {exe}")


def settle(page, name: str) -> None:
    """Give the kernel a moment to receive a widget change, then wait until it is idle."""
    page.wait_for_timeout(700)
    wait_for(page, lambda st: st["kernel"] == "idle", 120, f"{name}: the kernel stayed busy")


def play_state(page) -> dict:
    return page.evaluate(PLAY_STATE_JS) or {"app": False}


def wait_play(page, ok, timeout: float, message: str) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = play_state(page)
        if s.get("app") and ok(s):
            return s
        if time.monotonic() > deadline:
            raise Failure(f"{message} within {timeout:.0f} s; the app shows: "
                          f"{json.dumps(s)[:1500]}")
        page.wait_for_timeout(300)


def media_ok(s: dict, new: bool) -> bool:
    audio = [a for a in s["audio"] if a["old"] != new]
    imgs = [i for i in s["images"] if i["old"] != new]
    return (any(a["duration"] is not None and a["duration"] > 0 and a["duration"] < 1e9
                for a in audio)
            and any(i["complete"] and i["width"] > 0 for i in imgs))


def check_play(page, lab: Lab, args) -> None:
    name = PLAY
    open_notebook(page, lab, name, "lab-test-play", 120)
    say("ok", f"{name}: opened in JupyterLab, kernel idle")
    secs = run_all(page, name, args.play_timeout)
    say("ok", f"{name}: Run All Cells finished in {secs:.1f} s")
    check_kernel(lab, name)
    check_outputs(page, lab, name)

    s = wait_play(page, lambda s: media_ok(s, new=True), 60,
                  f"{name}: the app's first sample (audio and piano roll) did not show")
    if len(s["selects"]) < 2 or s["seed"] is None:
        raise Failure(f"{name}: the app lacks its model/prime dropdowns or seed: {s}")
    model_sel, prime_sel = s["selects"][0], s["selects"][1]
    say("ok", f"{name}: the app rendered: model {plain(model_sel['value']).split(':')[0]!r} "
              f"({len(model_sel['options'])} models), prime {plain(prime_sel['value'])!r}, "
              f"seed {s['seed']}, {s['sliders']} sliders, Generate button; first sample: "
              f"{len(s['audio'])} audio, {len(s['images'])} image")

    # Another model and seed, then Generate. (The dropdown shows "name: description".)
    options = model_sel["options"]
    current = plain(model_sel["value"]).split(":")[0]
    names = [plain(o).split(":")[0] for o in options]
    want = args.model if args.model in names and args.model != current else next(
        (n for n in names if n != current), None)
    if want is None:
        raise Failure(f"{name}: no other model to pick (options {options})")
    if want != args.model:
        say("note", f"{name}: model {args.model!r} not offered (or already on show); "
                    f"using {want!r}")
    seed = args.seed if str(args.seed) != s["seed"] else args.seed + 1
    page.evaluate(MARK_OLD_JS)
    app = page.locator(".jp-NotebookPanel:visible .widget-vbox",
                       has=page.locator(".widget-button", has_text="Generate")).last
    app.locator(".widget-dropdown select").first.select_option(label=options[names.index(want)])
    settle(page, name)  # the kernel answers with that model's primes
    seed_box = app.locator(".widget-text input[type=number]").first
    seed_box.fill(str(seed))
    seed_box.press("Enter")
    seed_box.press("Tab")
    settle(page, name)
    s = play_state(page)
    if plain(s["selects"][0]["value"]).split(":")[0] != want or s["seed"] != str(seed):
        raise Failure(f"{name}: the app did not take model {want} and seed {seed}: "
                      f"{s['selects'][0]['value']!r}, seed {s['seed']}")
    start = time.monotonic()
    app.locator(".widget-button", has_text="Generate").first.click()
    s = wait_play(page, lambda st: media_ok(st, new=True) and not st["buttonDisabled"],
                  args.play_timeout,
                  f"{name}: no new audio player and piano roll after Generate")
    secs = time.monotonic() - start
    text = plain(s["outText"])
    if f"{want} (seed {seed}" not in text:
        raise Failure(f"{name}: the new sample is not of {want} with seed {seed}:\n"
                      + indent(text, 6))
    if re.search(r"^(PlayApp: )?error", text, re.M):
        raise Failure(f"{name}: the app shows an error:\n" + indent(text, 6))
    durations = [a["duration"] for a in s["audio"] if not a["old"]]
    say("ok", f"{name}: Generate with {want}, seed {seed}: a new audio player "
              f"({', '.join(f'{d:.1f} s' for d in durations)}) and piano roll in {secs:.1f} s; "
              f"{' '.join(' '.join(plain(text).splitlines()[:2]).split())}")
    if any(a["error"] for a in s["audio"] if not a["old"]):
        raise Failure(f"{name}: the new audio player reports a media error: {s['audio']}")
    st = notebook_state(page)
    errors = [e for e in st["stderr"] if ERROR_TEXT.search(ANSI.sub("", e["text"]))]
    if errors:
        raise Failure(f"{name}: cell {errors[0]['cell']} shows an error after Generate:\n"
                      + indent(errors[0]["text"]))
    say("ok", f"{name}: no error output after Generate")

    if args.screenshot:
        app.locator(".widget-dropdown select").first.scroll_into_view_if_needed()
        page.evaluate("""() => {
          const b = Array.from(document.querySelectorAll('.jp-NotebookPanel .widget-button'))
            .find(b => b.textContent.trim() === 'Generate');
          const app = b.closest('.widget-vbox');
          const scroller = app.closest('.jp-WindowedPanel-outer') || app.closest('.jp-Notebook');
          app.scrollIntoView({block: 'start'});
          if (scroller) scroller.scrollTop -= 12;
        }""")
        page.mouse.move(0, 0)
        page.wait_for_timeout(500)
        Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=args.screenshot)
        say("ok", f"{name}: screenshot saved to {args.screenshot}")

    # Free the CPU for the next notebook.
    lab.api("DELETE", f"/api/sessions/{lab.session(name)['id']}")


def check_long(page, lab: Lab, args) -> None:
    name = LONG
    open_notebook(page, lab, name, "lab-test-long", 120)
    say("ok", f"{name}: opened in JupyterLab, kernel idle")
    check_kernel(lab, name)
    secs = run_all(page, name, args.timeout)
    say("ok", f"{name}: Run All Cells finished in {secs:.0f} s")
    check_outputs(page, lab, name)


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Run notebooks live in JupyterLab in headless Chromium and check them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status: " + __doc__.split("Exit status:")[1].split("Usage:")[0].strip(),
    )
    ap.add_argument("--browser", default=None,
                    help="Chromium executable (default: chromium on PATH, or /usr/bin/chromium)")
    ap.add_argument("--notebooks", default=str(REPO / "notebooks"),
                    help="the notebooks folder, copied before the run (default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help=f"seconds allowed for running {LONG} (default: %(default)s)")
    ap.add_argument("--play-timeout", type=float, default=300.0,
                    help=f"seconds allowed for running {PLAY} and for one Generate "
                         "(default: %(default)s)")
    ap.add_argument("--model", default="review-jsb/rnn-rbm",
                    help="the model to pick in the play app (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=7,
                    help="the seed to generate with (default: %(default)s)")
    ap.add_argument("--screenshot", default=None,
                    help=f"save the window of {PLAY} after Generate to this PNG")
    ap.add_argument("--failure-screenshot", default=None,
                    help="save the window to this PNG when a check fails")
    ap.add_argument("--skip-long", action="store_true", help=f"do not run {LONG}")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print the browser's console errors and Lab's log at the end")
    args = ap.parse_args(argv)

    notebooks = Path(args.notebooks)
    missing = [n for n in (PLAY, LONG) if not (notebooks / n).is_file()]
    if missing:
        print(f"lab_test: {', '.join(missing)} not found under {notebooks}", file=sys.stderr)
        return 2
    browser_path = chromium_path(args.browser, "lab_test")
    if browser_path is None:
        return 2
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("lab_test: the Python package playwright is missing "
              "(pip install -r requirements.txt)", file=sys.stderr)
        return 2

    start = time.monotonic()
    lab = None
    remote: list[str] = []
    console: list[str] = []
    try:
        lab = Lab(notebooks)
        lab.start()
        say("ok", f"JupyterLab up on 127.0.0.1:{lab.port} in {time.monotonic() - start:.1f} s "
                  f"(root: a copy of {notebooks})")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=browser_path, args=BROWSER_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                local = (f"http://127.0.0.1:{lab.port}/", f"ws://127.0.0.1:{lab.port}/",
                         "data:", "blob:", "about:")

                def route(r):
                    if r.request.url.startswith(local):
                        r.continue_()
                    else:
                        remote.append(r.request.url)
                        r.abort("blockedbyclient")

                context.route("**/*", route)
                page = context.new_page()
                page.on("pageerror", lambda exc: console.append(f"uncaught: {exc}"))
                page.on("console", lambda m: console.append(f"console.error: {m.text}")
                        if m.type == "error" else None)
                try:
                    check_play(page, lab, args)
                    if not args.skip_long:
                        check_long(page, lab, args)
                except Failure:
                    if args.failure_screenshot:
                        page.screenshot(path=args.failure_screenshot)
                        print(f"lab_test: the window is in {args.failure_screenshot}",
                              file=sys.stderr)
                    raise
                if remote:
                    raise Failure("requests that would leave the machine (blocked): "
                                  + ", ".join(sorted(set(remote)))[:500])
                say("ok", "no request left the machine")
            finally:
                browser.close()
    except Failure as e:
        say("FAIL", str(e))
        if args.verbose and lab is not None:
            print("JupyterLab's log:\n" + lab.log_tail(60), file=sys.stderr)
        return 1
    finally:
        if args.verbose:
            for c in console:
                print(f"note browser {c[:300]}", file=sys.stderr)
        if lab is not None:
            lab.stop()
    print(f"lab_test: passed in {time.monotonic() - start:.0f} s (JupyterLab, "
          f"kernel {sys.executable})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
