"""The README is the front door: its figures are the committed benchmark files', its links and pictures exist."""

from __future__ import annotations

import re
from pathlib import Path

from finetune.core.methods import METHODS
from finetune.engine import zerogpu

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def reproduce_table(title: str) -> dict[str, list[str]]:
    """One task's rows of the committed `reproduce` table (benchmarks/reproduce/table.md), by their first cell."""
    table = (REPO / "benchmarks" / "reproduce" / "table.md").read_text()
    section = table.split(f"## {title}")[1].split("\n## ")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()]
    return {row[0]: row for row in rows if len(row) > 5}


def test_the_methods_table_is_the_committed_reproduce_run():
    """Each method's row: its own summary, and the figures of benchmarks/reproduce/table.md, none retyped."""
    sst2, mrpc, cola = reproduce_table("SST-2"), reproduce_table("MRPC"), reproduce_table("CoLA")
    rows = {cells[0]: cells for cells in (line.split(" | ") for line in re.findall(r"^\| (.+) \|$", README, re.M))}
    for method in METHODS.values():
        row, measured = rows[method.title], sst2[method.title]
        assert row[1] == method.summary, "the method says what it trains, in its own file"
        assert row[2] == f"{measured[5]} ({measured[6]}%)"
        assert row[3:] == [measured[1], mrpc[method.title][1], cola[method.title][1], measured[7]], row
    majority = [table["majority class"][1] for table in (sst2, mrpc, cola)]
    assert "scores {} on SST-2, {} F1 on MRPC and {} MCC on CoLA".format(*majority) in README


def test_the_zerogpu_figures_in_the_reference_are_the_codes():
    reference = " ".join((REPO / "docs" / "reference.md").read_text().split())
    times = "\N{MULTIPLICATION SIGN}"  # as the reference writes it
    assert f"estimate {times} {zerogpu.DURATION_MARGIN:g} + {zerogpu.DURATION_EXTRA_S:g} s of GPU time" in reference
    assert f"`LAB_ZEROGPU_MAX_CALL_S` ({zerogpu.DEFAULT_MAX_CALL_S} s by default)" in reference
    assert f"`LAB_ZEROGPU_QUOTA_S`, {zerogpu.ANONYMOUS_QUOTA_S} s by default" in reference


def test_every_link_and_picture_of_the_docs_is_there():
    """Relative links and images of README.md and docs/*.md point at files that exist, and anchors at headings."""
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.name} links to {target}, which is missing"
            if anchor and file.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", file.read_text(), flags=re.MULTILINE)
                slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
                assert anchor in slugs, f"{page.name} links to #{anchor}, not a heading of {file.name}"


def test_the_readmes_pictures_are_small():
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (REPO / image).stat().st_size < 300_000, f"{image} is too big to commit"
