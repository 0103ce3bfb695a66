"""HTML reports: the :class:`Report` builder and the standard run report.

    >>> from aekit.report import build_report
    >>> report = build_report(model, X_train, X_test, y_train=y_train, y_test=y_test,
    ...                       history=result.history, config=run_config)
    >>> report.save("runs/digits/report")            # folder: index.html + figures/
    >>> report.save("digits.html", self_contained=True)  # one file, PNGs inlined
"""

from aekit.report.build import build_report, model_summary
from aekit.report.html import MARKER, Report, Section

__all__ = ["MARKER", "Report", "Section", "build_report", "model_summary"]
