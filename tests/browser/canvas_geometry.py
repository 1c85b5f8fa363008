"""Geometry of the designer's canvas, measured in the page from its DOM rects and SVG paths.

`measure(page)` returns what a person would see go wrong: wires through cards that are neither
their source nor their target, overlapping cards, outcome chips (the wires' names) under another
card, and wires whose first point is not on their outcome's chip. Every card must be displayed.
"""

from __future__ import annotations

from pathlib import Path

GEOMETRY = (Path(__file__).parent / "canvas_geometry.js").read_text()


def measure(page) -> dict:
    """The canvas's geometry problems after it has settled (lists of examples; counts of cards, wires)."""
    page.wait_for_timeout(100)  # the cull and pending wires are drawn on the next animation frame
    return page.evaluate(GEOMETRY, False)


def measure_visible(page) -> dict:
    """The same, over the cards displayed now and the wires between them (for a zoomed-in view)."""
    page.wait_for_timeout(100)
    return page.evaluate(GEOMETRY, True)


def problems(geometry: dict) -> dict:
    """Only the non-empty problem lists, for a readable assertion message."""
    keys = ("throughCards", "overlaps", "hiddenNames", "offPort", "undrawn")
    return {k: geometry[k][:5] for k in keys if geometry.get(k)}
