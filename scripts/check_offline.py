#!/usr/bin/env python3
"""Check that the built book loads nothing from the network.

Scans every ``*.html`` page under the build folder (default ``_build/html``) for elements
that make the browser fetch a resource — ``<script src>``, ``<link href>`` (stylesheets,
icons, preloads, …), ``<img src/srcset>``, ``<audio src>``, ``<video src/poster>``,
``<source src/srcset>``, ``<track src>``, ``<iframe src>``, ``<embed src>``,
``<object data>``, ``<input type=image src>`` — and for ``url(...)`` / ``@import`` in inline
``style`` attributes and ``<style>`` blocks; it also scans the book's own ``*.css`` files.
Any such reference to ``http://``, ``https://`` or a protocol-relative ``//host/`` URL is
reported. Ordinary hyperlinks (``<a href>``) to cited websites are fine and are not checked.

Exit status: 0 when the pages are self-contained, 1 when remote loads were found (they are
listed on stderr), 2 when the build folder is missing or holds no HTML pages.

Usage: python scripts/check_offline.py [BUILD_DIR]
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
CSS_URL = re.compile(
    r"""url\(\s*['"]?([^'")\s]+)|@import\s+(?:url\()?\s*['"]?([^'")\s;]+)""", re.IGNORECASE
)

# element -> attributes whose value the browser fetches
FETCHED = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "audio": ("src",),
    "video": ("src", "poster"),
    "source": ("src", "srcset"),
    "track": ("src",),
    "iframe": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
}
# <link rel=...> values that are plain metadata, not loads
LINK_NOT_LOADED = {"canonical", "alternate", "author", "help", "license", "next", "prev",
                   "search", "index", "top", "up", "first", "last", "bookmark", "me"}


def _urls(attr: str, value: str) -> list[str]:
    if attr == "srcset":
        return [part.strip().split()[0] for part in value.split(",") if part.strip()]
    return [value]


def _css_remote(text: str) -> list[str]:
    found = []
    for m in CSS_URL.finditer(text):
        url = m.group(1) or m.group(2)
        if url and REMOTE.match(url):
            found.append(url)
    return found


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hits: list[tuple[int, str, str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        amap = {k.lower(): (v or "") for k, v in attrs}
        line = self.getpos()[0]
        if tag == "style":
            self._in_style = True
        if "style" in amap:
            for url in _css_remote(amap["style"]):
                self.hits.append((line, f"<{tag} style>", url))
        if tag == "link":
            rels = set(amap.get("rel", "").lower().split())
            if rels and rels <= LINK_NOT_LOADED:
                return
        for attr in FETCHED.get(tag, ()):
            value = amap.get(attr)
            if not value:
                continue
            for url in _urls(attr, value):
                if REMOTE.match(url):
                    self.hits.append((line, f"<{tag} {attr}>", url))

    def handle_startendtag(self, tag, attrs):  # <img ... />
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            for url in _css_remote(data):
                self.hits.append((self.getpos()[0], "<style>", url))


def scan(build_dir: Path) -> tuple[int, list[str]]:
    problems: list[str] = []
    pages = sorted(build_dir.rglob("*.html"))
    for page in pages:
        scanner = _Scanner()
        scanner.feed(page.read_text(encoding="utf-8", errors="replace"))
        scanner.close()
        for line, where, url in scanner.hits:
            problems.append(f"{page.relative_to(build_dir)}:{line}: {where} {url}")
    # Stylesheets shipped with the book (theme, extensions): remote @import / url() there
    # would be fetched by every page too.
    for css in sorted(build_dir.rglob("*.css")):
        text = css.read_text(encoding="utf-8", errors="replace")
        for url in _css_remote(text):
            problems.append(f"{css.relative_to(build_dir)}: css url {url}")
    return len(pages), problems


def main(argv: list[str]) -> int:
    build_dir = Path(argv[1]) if len(argv) > 1 else Path("_build/html")
    if not build_dir.is_dir():
        print(f"check_offline: no build folder {build_dir}", file=sys.stderr)
        return 2
    n_pages, problems = scan(build_dir)
    if n_pages == 0:
        print(f"check_offline: no HTML pages under {build_dir}", file=sys.stderr)
        return 2
    if problems:
        print(f"check_offline: {len(problems)} remote load(s) in {build_dir}:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print(f"check_offline: {n_pages} pages in {build_dir} load nothing from the network")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
