"""Every relative link of README.md, docs/*.md and the results folders' READMEs leads somewhere: the file or
folder exists, and a `#section` names a heading of the Markdown file it points into (GitHub's anchors), so a
moved file or a renamed heading breaks a test, not a newcomer's first click."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "results").glob("*/README.md")])

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
# [text](target) and ![alt](target); the target ends at the first space or closing parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(text: str, inline_code: bool = False) -> list[str]:
    """The lines outside fenced code blocks, inline code removed (links inside code are examples) unless
    `inline_code` (a heading's anchor keeps the text of its code)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line if inline_code else INLINE_CODE.sub("", line))
    return lines


def links(page: Path) -> list[str]:
    return [m.group(1) for line in prose_lines(page.read_text()) for m in LINK.finditer(line)]


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped but hyphens and underscores, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor, with GitHub's -1, -2 suffixes for repeated headings."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose_lines(page.read_text(), inline_code=True):
        match = HEADING.match(line)
        if not match:
            continue
        slug = anchor(match.group(2))
        count = seen.get(slug, 0)
        found.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return found


def broken(page: Path) -> list[str]:
    """The relative links of a page that lead nowhere, each with the reason."""
    problems = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, section = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            problems.append(f"{target}: no such file")
        elif section and dest.suffix == ".md" and section not in anchors(dest):
            problems.append(f"{target}: no heading #{section} in {path or page.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    assert broken(page) == []


def test_the_check_finds_a_broken_link_and_a_broken_anchor(tmp_path):
    (tmp_path / "other.md").write_text("# Title\n\n## Same inputs, same bytes\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#same-inputs-same-bytes) [gone](missing.md) [bad](other.md#nowhere)\n"
                    "`[in code](missing-too.md)` [web](https://example.org/x.md)\n"
                    "```\n[in a fence](missing-three.md)\n```\n")
    assert broken(page) == ["missing.md: no such file", "other.md#nowhere: no heading #nowhere in other.md"]


# A project source file named in prose or inline code (`ferpipe/nn/loop.py`, `tests/support/stage_runs.py`):
# renames and moves of code must carry the pages along.
SOURCE_PATH = re.compile(r"(?<![\w./-])((?:ferpipe|stages|benchmarks|tests)/[\w/]+\.py)\b")


def stale_source_paths(page: Path) -> list[str]:
    return sorted({m.group(1) for m in SOURCE_PATH.finditer(page.read_text()) if not (REPO / m.group(1)).is_file()})


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_source_files_a_page_names_exist(page):
    assert stale_source_paths(page) == []


def test_the_check_finds_a_moved_source_file(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("The loop: `ferpipe/nn/loop.py`; the old one, ferpipe/nn/torch_training.py.\n")
    assert stale_source_paths(page) == ["ferpipe/nn/torch_training.py"]


def test_a_heading_s_anchor_keeps_the_text_of_its_code(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Ship it: `ship`\n\n[here](#ship-it-ship) and `[not a link](#nowhere)`\n")
    assert anchors(page) == {"ship-it-ship"} and broken(page) == []
