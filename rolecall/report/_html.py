"""The report as one self-contained HTML page: tables, and matplotlib plots inlined as PNG.

Nothing is fetched when the page opens (no scripts, fonts or images from elsewhere), so it works
offline and can be mailed. A small inline script counts the plots that rendered and any error,
into the page's title, so a headless browser can check the page.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from rolecall.report._terminal import ROWS

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5rem; }
.above { color: #a00; font-weight: bold; }
"""

_CHECK_SCRIPT = """
window.addEventListener("error", function (e) { document.title = "error: " + e.message; });
window.addEventListener("load", function () {
  if (document.title.indexOf("error") === 0) return;
  var images = Array.prototype.slice.call(document.images);
  var shown = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.title = "rolecall report: " + shown + " of " + images.length + " plots shown";
});
"""


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(caption, base64 PNG) for each distribution, the rejection funnel and cost by role."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    from matplotlib import pyplot

    plots = []
    corpora = {label: c for label, c in report["corpora"].items() if label != "rejected" and c.get("conversations")}
    names = next(iter(corpora.values()))["histograms"].keys() if corpora else []
    for name in names:
        figure, axes = pyplot.subplots(figsize=(5, 3))
        keys = sorted({int(k) for c in corpora.values() for k in c["histograms"][name]})
        width = 0.8 / max(1, len(corpora))
        for offset, (label, corpus) in enumerate(corpora.items()):
            counts = corpus["histograms"][name]
            total = sum(counts.values())
            shares = [counts.get(str(k), 0) / total for k in keys]
            axes.bar([k + offset * width for k in keys], shares, width=width, label=label)
        axes.set_xlabel(name.replace("_", " ") + (" (tenths)" if name == "dependency_share" else ""))
        axes.set_ylabel("share of conversations")
        axes.legend()
        plots.append((name.replace("_", " "), _png(figure)))
        pyplot.close(figure)
    funnel = report["rolecall"]["rejected_at"]
    if funnel:
        figure, axes = pyplot.subplots(figsize=(5, 3))
        axes.barh(list(funnel), list(funnel.values()))
        axes.set_xlabel("rejected dialogues (first failed check)")
        plots.append(("rejection funnel", _png(figure)))
        pyplot.close(figure)
    by_role = report["cost"]["by_role"]
    if by_role:
        figure, axes = pyplot.subplots(figsize=(5, 3))
        axes.bar(list(by_role), [row["tokens"] for row in by_role.values()])
        axes.set_ylabel("tokens")
        plots.append(("tokens by role", _png(figure)))
        pyplot.close(figure)
    return plots


def _table(headers: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(report: dict[str, Any]) -> str:
    corpora = report["corpora"]
    sections = [f"<h1>rolecall report</h1><p>{html.escape(report['run'])}</p>", "<h2>Corpus statistics</h2>"]
    sections.append(
        _table(["statistic", *corpora], [[title, *(corpora[c].get(key, "-") for c in corpora)] for title, key in ROWS])
    )
    for label, rows in report["distances"].items():
        sections.append(f"<h2>Accepted dialogues against {html.escape(label)}</h2>")
        table_rows, classes = [], []
        for name, row in rows.items():
            if "skipped" in row:
                table_rows.append([name, "-", "-", "-", "skipped: " + row["skipped"]])
                classes.append("")
            else:
                keys = ("distance", "noise_floor_mean", "noise_floor_p95")
                table_rows.append([name, *(f"{row[k]:.3f}" for k in keys), "yes" if row["above_noise"] else "no"])
                classes.append("above" if row["above_noise"] else "")
        headers = ["distribution", "JS distance", "noise floor (mean)", "noise floor (p95)", "above noise"]
        sections.append(_table(headers, table_rows, classes))
    sections.append("<h2>Plots</h2>")
    for caption, data in _plots(report):
        sections.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    own = report["rolecall"]
    sections.append("<h2>rolecall</h2>")
    facts = [[key.replace("_", " "), own[key]] for key in own]
    facts += [[f"cost: {key.replace('_', ' ')}", value] for key, value in report["cost"].items()]
    sections.append(_table(["what", "value"], facts))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>rolecall report</title>'
        f"<style>{_STYLE}</style><script>{_CHECK_SCRIPT}</script></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
