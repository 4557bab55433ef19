"""The comparison figure: per comparison and source, both arms' seeds, means, SDs and CIs, and the verdict.

One panel per (comparison, source), top to bottom in the summary's order, each on its own x range
(a comparison's difference can be a fraction of a point). Arm a is drawn above arm b with
audit.plots.draw_estimate, so a mark means the same as in the claims figure; the panel title
gives the verdict, the Holm-adjusted p and the probability of improvement, coloured by the verdict.
Drawn, like every figure, deterministically (audit.plots: STYLE, fixed margins, to_png).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from audit.plots import DPI, STYLE, SourceEstimate, draw_estimate, estimate_extent, set_margins, text_width, to_png

VERDICT_COLORS = {"SUPPORTED": "#009E73", "CONTRADICTED": "#D55E00"}  # anything else: grey
PANEL_HEIGHT = 1.55  # inches per panel, its two title lines included


@dataclass(frozen=True)
class ComparisonPanel:
    """One comparison on one source, as drawn: its title parts and each arm's estimate."""

    title: str  # e.g. "sudoku-extreme/mlp-vs-att on smoke (proxy: at proxy scale)"
    verdict: str
    detail: str  # e.g. "Holm p 0.159, PoI 1.00"
    arms: tuple[tuple[str, SourceEstimate], tuple[str, SourceEstimate]]  # (label, estimate) of a, then b


def plot_comparisons(panels: Sequence[ComparisonPanel], colors: Mapping[str, str]) -> bytes:
    """Every comparison panel in one figure; returns PNG bytes."""
    labels = [label for panel in panels for label, _ in panel.arms]
    label_width = text_width(labels, STYLE["font.size"])
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(max(8.0, label_width + 6.0), 0.9 + PANEL_HEIGHT * len(panels)), dpi=DPI)
        set_margins(fig, left=label_width + 0.3, right=0.2, top=0.45, bottom=0.85, hspace=1.35)
        axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
        for ax, panel in zip(axes, panels):
            for y, (_, est) in enumerate(panel.arms):
                draw_estimate(ax, est, y, colors[est.source])
            ax.set_yticks([0, 1], [label for label, _ in panel.arms])
            ax.set_ylim(1.6, -0.6)
            ax.set_xlim(*_x_range([est for _, est in panel.arms]))
            ax.grid(axis="y", visible=False)
            ax.set_title(f"{panel.title}\n{panel.verdict}: {panel.detail}", loc="left",
                         color=VERDICT_COLORS.get(panel.verdict, "0.25"))
        axes[-1].set_xlabel("test accuracy (%)  [metric as claimed: exact accuracy or ARC pass@2]")
        fig.legend(handles=_legend(), loc="lower center", ncol=3, frameon=False, bbox_to_anchor=(0.5, 0.0))
        return to_png(fig)


def _x_range(arms: Sequence[SourceEstimate]) -> tuple[float, float]:
    """Both arms' seeds, SD bars, intervals and published ± in view, padded by a tenth (at least 0.5 pp),
    at least 2 pp wide, within [-0.5, 100.5]."""
    xs = [x for est in arms for x in estimate_extent(est)]
    if not xs:
        return 0.0, 100.0
    low, high = min(xs), max(xs)
    pad = max(0.5, 0.1 * (high - low), (2.0 - (high - low)) / 2)
    return max(-0.5, low - pad), min(100.5, high + pad)


def _legend() -> list:
    def diamond(face: Optional[str], label: str) -> Line2D:
        return Line2D([], [], marker="D", linestyle="none", markeredgecolor="0.4", markerfacecolor=face or "white",
                      markeredgewidth=1.5, label=label)

    return [
        diamond("0.4", "mean of an arm"),
        diamond(None, "mean of a proxy arm (at proxy scale)"),
        Line2D([], [], color="0.4", marker="o", markersize=3, linestyle="none", label="one seed's value"),
        Line2D([], [], color="0.4", linewidth=5, alpha=0.35, label="±1 SD over seeds"),
        Line2D([], [], color="0.4", linewidth=1.2, marker="|", markersize=8,
               label="95% CI of the mean (Student t, clipped to [0, 100])"),
        Line2D([], [], color="0.4", linewidth=1.2, linestyle="--", marker="|", markersize=8,
               label="published ± (meaning not stated)"),
    ]
