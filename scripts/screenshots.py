#!/usr/bin/env python3
"""Take the README's screenshots of the built book in headless Chromium.

Writes two PNG files (default folder ``book/images``):

* ``screenshot-intro.png``: the introduction page (``book/intro.html``) as a reader first
  sees it, ``--width`` × ``--height`` pixels;
* ``screenshot-model.png``: a model page (default ``notebooks/08_training_and_samples.html``)
  scrolled to the first cell output that holds an audio player, so that the window shows
  that output — the piano roll above the player and the engraved score below it.

Each picture is checked against ``--max-kb``; a larger one is reduced to a 256-colour
palette (Pillow), which keeps text and the piano roll sharp. The browser is Debian's
``chromium`` driven by PyPI's ``playwright`` (as in ``scripts/browser_test.py``); nothing is
downloaded and the pages are read from ``file://``.

Exit status: 0 on success, 1 when a page lacks what the picture needs, 2 when the build
folder or the browser is missing.

Usage: python scripts/screenshots.py [BUILD_DIR] [--out book/images] [--width 1280]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from browser_test import chromium_path  # this folder is on sys.path when run as a script

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

# Runs in the model page: the cell output with the first <audio>, and where it lies.
FIND_OUTPUT_JS = """
() => {
  const audio = document.querySelector('audio');
  if (!audio) return null;
  const out = audio.closest('.cell_output') || audio.parentElement;
  const imgs = Array.from(out.querySelectorAll('img'));
  const before = imgs.filter(i => audio.compareDocumentPosition(i) & Node.DOCUMENT_POSITION_PRECEDING);
  const after = imgs.filter(i => audio.compareDocumentPosition(i) & Node.DOCUMENT_POSITION_FOLLOWING);
  const r = out.getBoundingClientRect();
  return {top: r.top + window.scrollY, height: r.height, before: before.length, after: after.length};
}
"""


def _settle(page) -> None:
    """Wait for images, fonts and MathJax, then let the layout rest."""
    page.evaluate(
        """async () => {
          const imgs = Array.from(document.images);
          imgs.forEach(i => { i.loading = 'eager'; });
          await Promise.all(imgs.map(i => i.complete ? null :
            new Promise(r => { i.onload = i.onerror = r; })));
          if (window.MathJax && MathJax.startup && MathJax.startup.promise)
            await MathJax.startup.promise;
          await document.fonts.ready;
        }"""
    )
    page.wait_for_timeout(500)


def _save(png: bytes, path: Path, max_kb: int) -> int:
    if len(png) > max_kb * 1024:
        from PIL import Image

        im = Image.open(io.BytesIO(png)).convert("RGB")
        buf = io.BytesIO()
        im.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buf, "PNG", optimize=True)
        png = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return len(png)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Take the README's screenshots of the built book (headless Chromium).",
    )
    ap.add_argument("build_dir", nargs="?", default="_build/html", help="the built HTML (default: %(default)s)")
    ap.add_argument("--out", default="book/images", help="folder for the PNG files (default: %(default)s)")
    ap.add_argument("--intro-page", default="book/intro.html", help="introduction page, relative to BUILD_DIR")
    ap.add_argument("--model-page", default="notebooks/08_training_and_samples.html",
                    help="a page with an audio player, a piano roll and a score (default: %(default)s)")
    ap.add_argument("--width", type=int, default=1280, help="window width in CSS pixels (default: %(default)s)")
    ap.add_argument("--height", type=int, default=800, help="window height for the introduction (default: %(default)s)")
    ap.add_argument("--max-kb", type=int, default=400, help="size above which a PNG is palette-reduced (default: %(default)s)")
    ap.add_argument("--browser", default=None, help="Chromium executable (default: chromium on PATH, or /usr/bin/chromium)")
    args = ap.parse_args(argv)

    build = Path(args.build_dir)
    intro, model = build / args.intro_page, build / args.model_page
    for p in (intro, model):
        if not p.is_file():
            print(f"screenshots: {p} not found (run `make book` first)", file=sys.stderr)
            return 2
    browser_path = chromium_path(args.browser, "screenshots")
    if browser_path is None:
        return 2
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    status = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": args.width, "height": args.height},
                                      device_scale_factor=1, color_scheme="light")
        # Offline: nothing but local files.
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(LOCAL_SCHEMES) else r.abort())
        page = context.new_page()

        page.goto(intro.resolve().as_uri(), wait_until="load")
        _settle(page)
        size = _save(page.screenshot(), out / "screenshot-intro.png", args.max_kb)
        print(f"screenshots: {out / 'screenshot-intro.png'} ({args.width}x{args.height}, {size // 1024} KB)")

        page.goto(model.resolve().as_uri(), wait_until="load")
        _settle(page)
        found = page.evaluate(FIND_OUTPUT_JS)
        if not found or not found["before"] or not found["after"]:
            print(f"screenshots: {args.model_page} has no cell output with a picture before and "
                  f"after an audio player: {found}", file=sys.stderr)
            status = 1
        else:
            # A window tall enough for the whole output, scrolled so that it sits below the
            # theme's header with a little of the page above it.
            margin = 56
            height = int(found["height"]) + margin + 12
            page.set_viewport_size({"width": args.width, "height": height})
            page.evaluate(f"window.scrollTo(0, {max(0, found['top'] - margin)})")
            page.wait_for_timeout(500)
            size = _save(page.screenshot(), out / "screenshot-model.png", args.max_kb)
            print(f"screenshots: {out / 'screenshot-model.png'} ({args.width}x{height}, {size // 1024} KB)")
        context.close()
        browser.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
