"""The report's figures: valid PNGs, byte-identical for the same inputs, no embedded version or date."""
from __future__ import annotations

import struct
import zlib

from audit.comparison_plot import ComparisonPanel, plot_comparisons
from audit.plots import (PALETTE, ClaimEstimates, RunCurve, SourceCurves, SourceEstimate, plot_claims, plot_curves,
                         source_colors)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every PNG chunk, checking each CRC."""
    assert png.startswith(PNG_SIGNATURE)
    out, at = [], len(PNG_SIGNATURE)
    while at < len(png):
        (length,) = struct.unpack(">I", png[at:at + 4])
        kind, data = png[at + 4:at + 8], png[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length:at + 12 + length])
        assert zlib.crc32(kind + data) == crc
        out.append((kind, data))
        at += 12 + length
    return out


def size(png: bytes) -> tuple[int, int]:
    header = dict(chunks(png))[b"IHDR"]
    return struct.unpack(">II", header[:8])


CLAIMS = (
    ClaimEstimates("toy/a", "toy · A", 80.0, 2.0, (
        SourceEstimate("paper", True, 80.2, 1.2, (77.1, 83.3), (79.0, 81.5, 80.2)),
        SourceEstimate("smoke", False, 45.0, None, None, (45.0,)),
        SourceEstimate("ext", True, 78.5, None, None, (), published_pm=2.55),
    )),
    ClaimEstimates("toy/b", "toy · B", None, 2.0, (SourceEstimate("paper", True, None, None, None, ()),)),
)


def test_claims_figure_is_a_deterministic_png_without_metadata():
    colors = source_colors(["paper", "smoke", "ext"])
    first = plot_claims(CLAIMS, "title", colors)
    assert first == plot_claims(CLAIMS, "title", colors)
    kinds = [kind for kind, _ in chunks(first)]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert not {b"tEXt", b"iTXt", b"zTXt", b"tIME"} & set(kinds)  # no software version, no date
    assert b"Matplotlib" not in first


def test_claims_figure_grows_with_its_rows_only():
    colors = source_colors(["paper", "smoke", "ext"])
    one = size(plot_claims(CLAIMS[:1], "t", colors))
    two = size(plot_claims(CLAIMS, "t", colors))
    assert one[0] == two[0] and two[1] > one[1]


def test_curves_figure_draws_runs_without_test_points():
    run = RunCurve(0, ((1, 2, 3), (10.0, 20.0, 30.0)), ((3,), (25.0,)), ((1, 2, 3), (2.0, 1.5, 1.0)), 3, 3, 3)
    failed = RunCurve(1, ((1,), (5.0,)), ((), ()), ((1,), (2.0,)), None, None, None)
    empty = RunCurve(2, ((), ()), ((), ()), ((), ()), None, None, None)
    sources = (SourceCurves("paper", True, (run, failed)), SourceCurves("smoke", False, (empty,)))
    colors = source_colors(["paper", "smoke"])
    png = plot_curves("title", "exact_accuracy", sources, colors)
    assert png == plot_curves("title", "exact_accuracy", sources, colors)
    assert size(png)[1] > size(plot_curves("t", "exact_accuracy", sources[:1], colors))[1]


def test_source_colors_are_stable_and_distinct():
    colors = source_colors(["smoke", "paper", "alphaxiv-2025", "paper"])
    assert colors == source_colors(["alphaxiv-2025", "smoke", "paper"])
    assert colors["alphaxiv-2025"] == PALETTE[0] and len(set(colors.values())) == 3


def test_comparisons_figure_is_deterministic_and_has_a_panel_per_row():
    a = SourceEstimate("paper", True, 80.2, 1.2, (77.1, 83.3), (79.0, 81.5, 80.2))
    b = SourceEstimate("paper", True, 70.0, 0.5, (68.8, 71.2), (70.0, 69.5, 70.5))
    published = SourceEstimate("ext", True, 78.5, None, None, (), published_pm=2.55)
    panels = (ComparisonPanel("toy/a-vs-b on paper", "SUPPORTED", "Holm p 0.0010, PoI 1.00",
                              (("a: toy/a", a), ("b: toy/b", b))),
              ComparisonPanel("toy/a-vs-b on ext", "INCONCLUSIVE", "Holm p —, PoI —",
                              (("a: toy/a", published), ("b: toy/b", published))))
    colors = source_colors(["paper", "ext"])
    png = plot_comparisons(panels, colors)
    assert png == plot_comparisons(panels, colors) and b"Matplotlib" not in png
    one = size(plot_comparisons(panels[:1], colors))
    assert one[0] == size(png)[0] and size(png)[1] > one[1]
