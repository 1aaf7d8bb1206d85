#!/usr/bin/python3
"""Checks the documentation's links, with nothing but the standard library.

1. Every heading anchor of the README at BASE (a git commit, default cefe46c: the README before it was split into
   docs/) is still an anchor of README.md, as a heading or an <a id="..."> / <a name="..."> tag, so that links people
   made to README.md#some-heading keep landing somewhere.
2. Every relative link in README.md and docs/*.md ([text](path), ![alt](path)) names a file or folder that exists, and
   a #fragment into a Markdown file (or into the page itself) names one of its headings or anchors.

Anchors follow GitHub's rules: the heading's text, lower-cased, without punctuation (letters, digits, spaces, '-' and
'_' are kept), spaces turned into '-', and "-1", "-2", ... added to repeats.

Usage: scripts/check-doc-links.py [BASE]    (from anywhere inside the repository)
Prints each problem and exits 1 if there is any; otherwise prints what it checked and exits 0.
"""
import os
import re
import subprocess
import sys
import unicodedata

ROOT = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True,
                      cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
BASE = sys.argv[1] if len(sys.argv) > 1 else "cefe46c"

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"""<a\s+(?:[^>]*?\s)?(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def prose_lines(text):
    """(line number, line) of every line outside fenced code blocks."""
    inside = False
    for number, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            yield number, line


def slug(heading):
    """GitHub's anchor for a heading's Markdown text (before de-duplication)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)     # a link's text only
    text = re.sub(r"<[^>]+>", "", text)                               # HTML tags
    text = text.replace("`", "").replace("*", "")
    kept = (c for c in text.lower()
            if c in " -_" or unicodedata.category(c)[0] in "LN")      # letters, digits (any script)
    return "".join(kept).replace(" ", "-")


def anchors(text):
    """Every anchor a page defines: heading slugs (with GitHub's -1, -2 for repeats) and <a id/name> tags."""
    found, seen = set(), {}
    for _, line in prose_lines(text):
        m = HEADING.match(line)
        if m:
            s = slug(m.group(2))
            n = seen.get(s, 0)
            seen[s] = n + 1
            found.add(s if n == 0 else f"{s}-{n}")
        found.update(HTML_ANCHOR.findall(line))
    return found


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def check_old_anchors(problems):
    old = subprocess.run(["git", "show", f"{BASE}:README.md"], capture_output=True, text=True, cwd=ROOT)
    if old.returncode != 0:
        problems.append(f"git show {BASE}:README.md failed: {old.stderr.strip()}")
        return 0
    old_anchors = anchors(old.stdout)
    new_anchors = anchors(read(os.path.join(ROOT, "README.md")))
    for a in sorted(old_anchors - new_anchors):
        problems.append(f"README.md: anchor #{a} of the README at {BASE} is gone (add a heading or <a id=\"{a}\"></a>)")
    return len(old_anchors)


def check_links(problems):
    pages = [os.path.join(ROOT, "README.md")]
    docs = os.path.join(ROOT, "docs")
    pages += sorted(os.path.join(docs, f) for f in os.listdir(docs) if f.endswith(".md"))
    anchor_cache, count = {}, 0
    for page in pages:
        rel_page = os.path.relpath(page, ROOT)
        for number, line in prose_lines(read(page)):
            for target in LINK.findall(CODE_SPAN.sub("", line)):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):      # http:, https:, mailto:
                    continue
                count += 1
                path, _, fragment = target.partition("#")
                file = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
                where = f"{rel_page}:{number}: ({target})"
                if not os.path.exists(file):
                    problems.append(f"{where}: {os.path.relpath(file, ROOT)} does not exist")
                elif fragment and file.endswith(".md"):
                    if file not in anchor_cache:
                        anchor_cache[file] = anchors(read(file))
                    if fragment not in anchor_cache[file]:
                        problems.append(f"{where}: no heading or anchor #{fragment} in {os.path.relpath(file, ROOT)}")
    return len(pages), count


def main():
    problems = []
    old = check_old_anchors(problems)
    pages, links = check_links(problems)
    for p in problems:
        print(p)
    print(f"{old} anchors of README.md at {BASE} checked; {links} relative links in {pages} pages checked; "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
