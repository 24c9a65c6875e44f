"""One self-contained HTML report of a store: leaderboard with intervals and groups, pairwise
matrix, per-task plots, variance / bias / flip panels, arena ratings, scaling forecasts and a
side-by-side drill-down of answers."""

from ._build import ReportData, build_report
from ._leaderboard import COMPARE_METHOD, compare_scores, headline_metrics
from ._panel import Panel
from ._render import environment, render_report, write_report
from ._scaling import ScalingForecast

__all__ = [
    "COMPARE_METHOD",
    "Panel",
    "ReportData",
    "ScalingForecast",
    "build_report",
    "compare_scores",
    "environment",
    "headline_metrics",
    "render_report",
    "write_report",
]
