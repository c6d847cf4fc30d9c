"""The run report: every variant against the float baseline, with one computed recommendation per target.

`write_report` takes plain inputs (a summary DataFrame, arrays, run facts) and writes REPORT.md,
a self-contained report.html, summary.csv and the PNG figures.
"""

from digitedge.report.build import ReportFiles, RunFacts, write_report
from digitedge.report.tables import SUMMARY_KEYS, VARIANT_ORDER, format_summary
from digitedge.report.targets import TargetRecommendation, recommend_targets

__all__ = ["write_report", "RunFacts", "ReportFiles", "recommend_targets", "TargetRecommendation", "SUMMARY_KEYS",
           "VARIANT_ORDER", "format_summary"]
