#!/usr/bin/env python3
"""Open every page of the built book in headless Chromium and check that it works offline.

For each ``*.html`` page under the build folder (default ``_build/html``; the theme's
templates under ``_static/`` are not pages), loaded from ``file://``:

* the page loads, and the browser reports no JavaScript error (uncaught exceptions and
  console errors, failed loads included) other than the known, harmless
  ``Identifier 'THEBE_JS_URL' has already been declared`` that Jupyter Book 1 causes by
  inlining the thebe configuration twice, and the theme's first-visit
  ``Got invalid theme mode: . Resetting to auto.``;
* no request leaves the machine: every request is intercepted and any URL that is not
  ``file:``, ``data:``, ``blob:`` or ``about:`` is refused and reported;
* every ``<img>`` loaded (``naturalWidth > 0``; lazy images are made eager first);
* every ``<audio>`` read its metadata and has a finite duration > 0;
* MathJax ran where the page has maths: every ``.math`` element (what ``$…$``, ``$$…$$`` and
  ``{math}`` become) holds an ``<mjx-container>``, and no ``<mjx-merror>`` (a TeX error) shows;
* Jupyter widgets rendered where the page embeds widget state: each
  ``application/vnd.jupyter.widget-view+json`` script got a view from the widget manager, and
  no view is the manager's error widget (a model it could not build);
* a page that is only a redirect (``<meta http-equiv="refresh">``, e.g. ``index.html``)
  points at a page that exists.

The browser is Debian's ``chromium`` (``apt-get install chromium``), driven by PyPI's
``playwright``; the script never downloads a browser. ``make browser-test`` installs what is
missing, builds the book if needed and runs this script.

Exit status: 0 when every page passes, 1 when a check failed (a report lists each problem),
2 when the build folder or the browser is missing.

Usage: python scripts/browser_test.py [BUILD_DIR] [--browser /usr/bin/chromium] [-q]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# Console/page errors that are known and harmless: Jupyter Book 1 inlines the thebe
# configuration twice; pydata-sphinx-theme logs the second on a first visit (no colour mode
# saved yet, and no default_mode configured) and then uses "auto".
KNOWN_ERRORS = (
    re.compile(r"Identifier 'THEBE_JS_URL' has already been declared"),
    re.compile(r"Got invalid theme mode: \. Resetting to auto\."),
)
# URL schemes that never leave the machine.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# Folders of the build that hold no pages.
NOT_PAGES = ("_static", "_sources", "_images")
REDIRECT = re.compile(
    r"""<meta\s+http-equiv=["']refresh["']\s+content=["']\d+;\s*url=([^"']+)["']""", re.I
)

# Runs in the page: wait for images, audio metadata, MathJax and widgets, then describe them.
PAGE_REPORT_JS = """
async ({timeoutMs}) => {
  const deadline = Date.now() + timeoutMs;
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const left = () => Math.max(0, deadline - Date.now());
  const settle = (el, ok, bad) => new Promise(resolve => {
    const done = () => resolve();
    el.addEventListener(ok, done, {once: true});
    el.addEventListener(bad, done, {once: true, capture: true});
    setTimeout(done, left());
  });

  // Images (lazy ones are made eager so that they load without scrolling).
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : settle(i, 'load', 'error')));
  const images = imgs.map(i => ({
    src: (i.getAttribute('src') || '').slice(0, 120),
    ok: i.complete && i.naturalWidth > 0,
    width: i.naturalWidth,
  }));

  // Audio: wait for the metadata (duration).
  const auds = Array.from(document.querySelectorAll('audio'));
  await Promise.all(auds.map(a => {
    if (a.readyState >= 1 || a.error) return null;
    if (a.preload === 'none') { a.preload = 'metadata'; a.load(); }
    return settle(a, 'loadedmetadata', 'error');
  }));
  const audio = auds.map(a => ({
    src: (a.currentSrc || '').slice(0, 40),
    duration: a.duration,
    ok: !a.error && Number.isFinite(a.duration) && a.duration > 0,
    error: a.error ? `MediaError ${a.error.code} ${a.error.message || ''}` : null,
  }));

  // MathJax: wait for the first typesetting to finish.
  const mathEls = Array.from(document.querySelectorAll('.math'));
  let mathjax = null;
  if (mathEls.length) {
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && left() > 0) {
      await sleep(100);
    }
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      await Promise.race([MathJax.startup.promise, sleep(left())]);
      mathjax = MathJax.version || 'unknown';
    }
  }
  const math = {
    elements: mathEls.length,
    typeset: mathEls.filter(e => e.querySelector('mjx-container')).length,
    containers: document.querySelectorAll('mjx-container').length,
    errors: Array.from(document.querySelectorAll('mjx-merror'))
      .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
    mathjax,
  };

  // Widgets: each view script gets a rendered view in the div the manager puts before it.
  const hasState = !!document.querySelector(
    'script[type="application/vnd.jupyter.widget-state+json"]');
  const viewTags = Array.from(document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]'));
  // (An empty Output widget is a rendered view of no size, so sizes are not required.)
  const rendered = tag => {
    const box = tag.previousElementSibling;
    if (!box || !box.classList.contains('widget-subarea')) return false;
    const view = box.firstElementChild;
    return !!view && !box.querySelector('.jupyter-widgets-error-widget');
  };
  if (hasState) {
    while (viewTags.some(t => !rendered(t)) && left() > 0) await sleep(100);
  }
  const widgets = {
    state: hasState,
    views: viewTags.length,
    rendered: viewTags.filter(rendered).length,
    missing: viewTags.filter(t => !rendered(t)).map(t => {
      try { return JSON.parse(t.textContent).model_id; } catch (e) { return '?'; }
    }),
  };
  return {images, audio, math, widgets, title: document.title};
}
"""


@dataclass
class PageResult:
    path: str
    problems: list[str] = field(default_factory=list)
    summary: str = ""


def chromium_path(requested: str | None, prog: str) -> str | None:
    """The Chromium to drive: ``requested``, else ``chromium`` on PATH, else /usr/bin/chromium;
    None, after a one-line message from ``prog``, when it is not there."""
    path = requested or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        print(f"{prog}: no Chromium at {path} (apt-get install chromium)", file=sys.stderr)
        return None
    return path


def find_pages(build: Path) -> list[Path]:
    pages = []
    for p in sorted(build.rglob("*.html")):
        rel = p.relative_to(build)
        if rel.parts[0] in NOT_PAGES:
            continue
        pages.append(p)
    return pages


def _is_known(text: str) -> bool:
    return any(k.search(text) for k in KNOWN_ERRORS)


def check_page(context, build: Path, page_path: Path, timeout_s: float) -> PageResult:
    rel = page_path.relative_to(build).as_posix()
    result = PageResult(rel)
    html = page_path.read_text(encoding="utf-8", errors="replace")

    m = REDIRECT.search(html) if len(html) < 2000 else None
    if m:
        target = (page_path.parent / m.group(1).split("#")[0]).resolve()
        if not target.is_file():
            result.problems.append(f"redirects to a missing page: {m.group(1)}")
        result.summary = f"redirect -> {m.group(1)}"
        return result

    errors: list[str] = []
    remote: list[str] = []
    failed: list[str] = []

    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    def console(msg):
        if msg.type == "error":
            where = (msg.location or {}).get("url", "")
            errors.append(f"console.error: {msg.text}" + (f" [{where[:160]}]" if where else ""))

    page.on("console", console)
    page.on(
        "requestfailed",
        lambda req: failed.append(f"{req.url[:160]} ({req.failure})")
        if req.url.startswith("file:")
        else None,
    )
    page.on("websocket", lambda ws: remote.append(f"websocket {ws.url}"))

    def route(r):
        url = r.request.url
        if url.startswith(LOCAL_SCHEMES):
            r.continue_()
        else:
            remote.append(url)
            r.abort("blockedbyclient")

    page.route("**/*", route)
    try:
        page.goto(page_path.resolve().as_uri(), wait_until="load", timeout=timeout_s * 1000)
        info = page.evaluate(PAGE_REPORT_JS, {"timeoutMs": int(timeout_s * 1000)})
        # Late console errors (e.g. a font or a MathJax component that failed to load).
        page.wait_for_timeout(300)
    except Exception as exc:  # a page that does not load or times out
        result.problems.append(f"page did not load: {exc}".splitlines()[0])
        page.close()
        return result
    page.close()

    for e in errors:
        if not _is_known(e):
            result.problems.append(e[:300])
    for f in failed:
        result.problems.append(f"failed to load {f}")
    for url in sorted(set(remote)):
        result.problems.append(f"request leaving the machine (blocked): {url[:200]}")
    for img in info["images"]:
        if not img["ok"]:
            result.problems.append(f"image not loaded: {img['src']}")
    for a in info["audio"]:
        if not a["ok"]:
            result.problems.append(
                f"audio without a duration: {a['src']}… ({a['error'] or a['duration']})"
            )
    math = info["math"]
    if math["elements"]:
        if math["mathjax"] is None:
            result.problems.append("the page has maths but MathJax did not start")
        elif math["typeset"] < math["elements"]:
            result.problems.append(
                f"MathJax typeset {math['typeset']} of {math['elements']} maths elements"
            )
        for err in math["errors"]:
            result.problems.append(f"TeX error: {err}")
    w = info["widgets"]
    if w["state"]:
        if w["views"] == 0:
            result.problems.append("widget state embedded but no widget view on the page")
        for mid in w["missing"]:
            result.problems.append(f"widget view not rendered: model {mid}")

    parts = [f"{len(info['images'])} img"]
    if info["audio"]:
        durs = ", ".join(f"{a['duration']:.1f}s" for a in info["audio"] if a["ok"])
        parts.append(f"{len(info['audio'])} audio ({durs})")
    if math["elements"]:
        parts.append(f"maths {math['typeset']}/{math['elements']}")
    if w["state"]:
        parts.append(f"widgets {w['rendered']}/{w['views']}")
    known = sum(1 for e in errors if _is_known(e))
    if known:
        parts.append(f"{known} known error(s) ignored")
    result.summary = ", ".join(parts)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Check every page of the built book in headless Chromium (offline).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status: " + __doc__.split("Exit status:")[1].split("Usage:")[0].strip(),
    )
    ap.add_argument("build_dir", nargs="?", default="_build/html", help="the built HTML (default: %(default)s)")
    ap.add_argument("--browser", default=None, help="Chromium executable (default: chromium on PATH, or /usr/bin/chromium)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per page (default: %(default)s)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only the pages that fail")
    args = ap.parse_args(argv)

    build = Path(args.build_dir)
    pages = find_pages(build) if build.is_dir() else []
    if not pages:
        print(f"browser_test: no HTML pages under {build} (run `make book` first)", file=sys.stderr)
        return 2
    browser_path = chromium_path(args.browser, "browser_test")
    if browser_path is None:
        return 2
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser_test: the Python package playwright is missing (pip install -r requirements.txt)", file=sys.stderr)
        return 2

    start = time.monotonic()
    results: list[PageResult] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=browser_path,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        version = browser.version
        for p in pages:
            r = check_page(context, build, p, args.timeout)
            results.append(r)
            status = "FAIL" if r.problems else "ok  "
            if r.problems or not args.quiet:
                print(f"{status} {r.path}: {r.summary}", flush=True)
                for prob in r.problems:
                    print(f"       - {prob}", flush=True)
        context.close()
        browser.close()

    bad = [r for r in results if r.problems]
    secs = time.monotonic() - start
    print(
        f"browser_test: {len(results)} pages under {build} in Chromium {version}, {secs:.0f} s; "
        f"{sum(len(r.problems) for r in bad)} problem(s)"
    )
    print(f"browser_test: {len(results) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
