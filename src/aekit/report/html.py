"""The report builder: sections of text, figures, tables and key-value lists -> one HTML page.

Format. :meth:`Report.save` writes a **folder** by default: ``index.html`` plus
``figures/*.png`` linked by relative paths. A folder diffs well in git, its PNGs can be
linked from a README, and the page stays small. ``self_contained=True`` writes **one HTML
file** with every PNG inlined as base64 (``data:`` URLs) instead: the friendliest form to
e-mail or attach. Both open from disk (``file://``) in any browser, with no server and no
network access; the only scripts are those of interactive figures (the latent map), written
into the folder beside the page (inlined in a self-contained page).

Safety. Every piece of text goes through ``html.escape``. Saving is atomic: the folder is
built under a temporary name beside the target and swapped in only when complete (the HTML
file goes through a temporary file and ``os.replace``), so a failure never leaves half a
report; an existing folder is only replaced if it is an aekit report (marker file) or empty.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from aekit.errors import ConfigError
from aekit.io.atomic import (
    REPORT_MARKER,
    apply_default_modes,
    carry_over,
    read_manifest,
    swap_folder,
    write_manifest,
    write_text_atomic,
)
from aekit.plotting.base import DPI, figure_to_png

MARKER = REPORT_MARKER
FIGURE_DIR = "figures"

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
.subtitle{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}
.claim,.measured{padding:.5em .8em;margin:.6em 0;border-left:4px solid}
.claim{background:#f4f7fb;border-color:#5b8bd0} .measured{background:#f5faf3;border-color:#5aa45a}
.verdict{padding:.4em .8em;margin:.6em 0;border-left:4px solid #888;background:#fafafa}
.verdict.holds{border-color:#2e7d32} .verdict.fails{border-color:#c62828}
nav ol{columns:2} code{background:#f3f3f3;padding:0 .2em}
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "item"


@dataclass
class FigureItem:
    png: bytes
    caption: str | None
    alt: str
    name: str  # file stem inside figures/


@dataclass
class TableItem:
    header: list
    rows: list
    caption: str | None


@dataclass
class TextItem:
    text: str


@dataclass
class HtmlItem:
    """Markup made by aekit code (which escaped every piece of text in it) and the files it
    needs: ``files`` {relative path: bytes} go into the report folder; ``scripts`` (paths
    among ``files``) load after the markup, by <script src> in a folder and inlined in a
    self-contained page. For interactive figures; nothing is fetched from the network."""

    html: str
    files: dict = field(default_factory=dict)
    scripts: list = field(default_factory=list)


@dataclass
class Section:
    """One titled part of a report. ``claim``: what the lecture says should happen;
    ``measured``: what this run found; ``checks``: each testable part of the claim ->
    whether it held on this run (the verdict: the claim holds when every part does). Add
    content with the chainable methods below."""

    title: str
    claim: str | None = None
    measured: str | None = None
    checks: dict | None = None
    items: list = field(default_factory=list)
    _report: "Report | None" = field(default=None, repr=False)

    def text(self, text: str) -> "Section":
        """A paragraph of plain text (escaped; blank lines split paragraphs)."""
        self.items.append(TextItem(str(text)))
        return self

    def figure(self, fig: Figure | bytes, caption: str | None = None, alt: str | None = None,
               dpi: int = DPI) -> "Section":
        """A matplotlib Figure (rendered to PNG now and closed) or PNG bytes."""
        png = fig if isinstance(fig, (bytes, bytearray)) else figure_to_png(fig, dpi)
        if not bytes(png[:8]) == b"\x89PNG\r\n\x1a\n":
            raise ConfigError(f"section {self.title!r}: figure data is not a PNG image")
        n = self._report._next_figure() if self._report is not None else 1
        name = f"fig{n:02d}-{_slug(self.title)}"
        self.items.append(FigureItem(bytes(png), caption, alt or caption or self.title, name))
        return self

    def html(self, markup: str, files: dict | None = None, scripts=()) -> "Section":
        """Trusted markup with its files and scripts (see :class:`HtmlItem`)."""
        files = dict(files or {})
        for name in [*files, *scripts]:
            parts = Path(name).parts
            if Path(name).is_absolute() or ".." in parts or not parts or parts[0] == FIGURE_DIR:
                raise ConfigError(f"section {self.title!r}: file name {name!r} must be a "
                                  f"relative path inside the report folder")
        missing = [s for s in scripts if s not in files]
        if missing:
            raise ConfigError(f"section {self.title!r}: scripts {missing} are not among its files")
        self.items.append(HtmlItem(str(markup), files, list(scripts)))
        return self

    def table(self, header, rows, caption: str | None = None) -> "Section":
        """A table: ``header`` (c,) column names, ``rows`` list of (c,) cells (any values,
        shown with str())."""
        header = [str(h) for h in header]
        rows = [[c for c in r] for r in rows]
        bad = [i for i, r in enumerate(rows) if len(r) != len(header)]
        if bad:
            raise ConfigError(f"table {caption or self.title!r}: row {bad[0]} has "
                              f"{len(rows[bad[0]])} cells, header has {len(header)}")
        self.items.append(TableItem(header, rows, caption))
        return self

    def key_values(self, mapping: dict, caption: str | None = None) -> "Section":
        """A two-column table of a (possibly nested) dict; nested values shown as JSON."""
        rows = [[k, v if isinstance(v, (str, int, float, bool)) or v is None
                 else json.dumps(v, default=str)] for k, v in mapping.items()]
        return self.table(["setting", "value"], rows, caption)


class Report:
    """An HTML report under construction.

    >>> r = Report("fashion-mnist, stacked AE")
    >>> r.section("Reconstructions", claim="...", measured="...").figure(fig, "test images")
    >>> r.save("runs/stacked/report")        # folder: index.html + figures/*.png
    """

    def __init__(self, title: str, subtitle: str | None = None):
        self.title = str(title)
        self.subtitle = subtitle
        self.sections: list[Section] = []
        self.results: dict = {}  # machine-readable numbers behind the page (metrics, ...)
        self._n_figures = 0

    def _next_figure(self) -> int:
        self._n_figures += 1
        return self._n_figures

    def section(self, title: str, *, claim: str | None = None,
                measured: str | None = None, checks: dict | None = None) -> Section:
        """Append and return a new section (``checks``: see :class:`Section`)."""
        s = Section(str(title), claim, measured,
                    None if checks is None else {str(k): bool(v) for k, v in checks.items()},
                    _report=self)
        self.sections.append(s)
        return s

    # --- rendering ------------------------------------------------------------------------
    def to_html(self, self_contained: bool = True, figure_dir: str = FIGURE_DIR) -> str:
        """The page as a string; figures inlined (``self_contained``) or linked as
        ``figure_dir/<name>.png``."""
        e = html.escape
        out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
               '<meta name="viewport" content="width=device-width, initial-scale=1">',
               '<link rel="icon" href="data:,">',  # no favicon request, no console error
               f"<title>{e(self.title)}</title><style>{CSS}</style></head><body>",
               f"<h1>{e(self.title)}</h1>"]
        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        sub = f"{self.subtitle} · " if self.subtitle else ""
        out.append(f'<p class="subtitle">{e(sub)}generated by aekit on {e(stamp)}</p>')
        if len(self.sections) > 2:
            out.append("<nav><ol>")
            for i, s in enumerate(self.sections):
                out.append(f'<li><a href="#s{i + 1}">{e(s.title)}</a></li>')
            out.append("</ol></nav>")
        for i, s in enumerate(self.sections):
            out.append(f'<section id="s{i + 1}"><h2>{e(s.title)}</h2>')
            if s.claim:
                out.append(f'<div class="claim"><strong>What the lecture claims.</strong> '
                           f"{e(s.claim)}</div>")
            if s.measured:
                out.append(f'<div class="measured"><strong>What this run measured.</strong> '
                           f"{e(s.measured)}</div>")
            if s.checks:
                out.append(self._render_verdict(s.checks))
            for item in s.items:
                out.append(self._render_item(item, self_contained, figure_dir))
            out.append("</section>")
        out.append("</body></html>")
        return "\n".join(out)

    @staticmethod
    def _render_verdict(checks: dict) -> str:
        e = html.escape
        held = all(checks.values())
        parts = "; ".join(f"{e(name)}: {'yes' if ok else 'no'}" for name, ok in checks.items())
        word = "holds" if held else "does not hold"
        return (f'<div class="verdict {"holds" if held else "fails"}"><strong>Verdict: on '
                f"this run the claim {word}.</strong> {parts}.</div>")

    @staticmethod
    def _render_item(item, self_contained: bool, figure_dir: str) -> str:
        e = html.escape
        if isinstance(item, TextItem):
            return "".join(f"<p>{e(p.strip())}</p>" for p in item.text.split("\n\n") if p.strip())
        if isinstance(item, HtmlItem):
            out = [item.html]
            for name in item.scripts:
                if self_contained:  # "</" would end the inline script early
                    code = item.files[name].decode("utf-8").replace("</", "<\\/")
                    out.append(f"<script>{code}</script>")
                else:
                    out.append(f'<script src="{e(name)}"></script>')
            return "".join(out)
        if isinstance(item, FigureItem):
            if self_contained:
                src = "data:image/png;base64," + base64.b64encode(item.png).decode("ascii")
            else:
                src = f"{figure_dir}/{item.name}.png"
            cap = f"<figcaption>{e(item.caption)}</figcaption>" if item.caption else ""
            return f'<figure><img src="{e(src)}" alt="{e(item.alt)}">{cap}</figure>'
        head = "".join(f"<th>{e(h)}</th>" for h in item.header)
        body = []
        for row in item.rows:
            cells = []
            for c in row:
                num = isinstance(c, (int, float)) and not isinstance(c, bool)
                cls = ' class="num"' if num else ""
                cells.append(f"<td{cls}>{e(str(c))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        cap = f"<caption>{e(item.caption)}</caption>" if item.caption else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

    def figures(self) -> list[FigureItem]:
        return [it for s in self.sections for it in s.items if isinstance(it, FigureItem)]

    def files(self) -> dict:
        """{relative path: bytes} of the interactive figures' files (folder reports)."""
        return {name: data for s in self.sections for it in s.items
                if isinstance(it, HtmlItem) for name, data in it.files.items()}

    # --- saving ---------------------------------------------------------------------------
    def save(self, path, *, self_contained: bool = False) -> Path:
        """Write the report; returns the path of the HTML file to open.

        self_contained=False: ``path`` is a folder that will hold ``index.html``,
        ``figures/*.png`` and a marker file; an existing folder is replaced only if it holds
        the marker (an earlier report) or is empty. self_contained=True: ``path`` is the
        HTML file itself (images inlined).
        """
        path = Path(path)
        if self_contained:
            if path.is_dir():
                raise ConfigError(f"{path} is a folder; self-contained reports are one file "
                                  "(give a path like report.html)")
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, self.to_html(self_contained=True))  # umask modes
            return path
        return self._save_folder(path)

    def _save_folder(self, path: Path) -> Path:
        if path.exists():
            if not path.is_dir():
                raise ConfigError(f"{path} exists and is not a folder")
            if any(path.iterdir()) and not (path / MARKER).exists():
                raise ConfigError(f"{path} is a non-empty folder that is not an aekit report; "
                                  "refusing to replace it (choose another --out)")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
        try:
            (tmp / FIGURE_DIR).mkdir()
            for item in self.figures():
                (tmp / FIGURE_DIR / f"{item.name}.png").write_bytes(item.png)
            for name, data in self.files().items():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp / name).write_bytes(data)
            (tmp / "index.html").write_text(self.to_html(self_contained=False), encoding="utf-8")
            # The marker lists what this report wrote, so a rewrite replaces exactly that.
            write_manifest(tmp / MARKER, tmp, "written by aekit.report")
            apply_default_modes(tmp)  # what mkdir/open give under the umask (mkdtemp: 0700)
            if path.exists():
                # files someone else put in the old report are kept, as they are
                carry_over(path, tmp, read_manifest(path / MARKER))
            swap_folder(tmp, path)  # a failure puts the previous report back
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path / "index.html"
