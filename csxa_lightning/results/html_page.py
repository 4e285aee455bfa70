"""A report's markdown as one self-contained HTML page (report.html of the sweep report and of
evaluate's report): the same text, its figures inlined so that the page travels alone."""

from __future__ import annotations

import base64

import markdown

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;"
    "color:#222}table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}"
    "img{max-width:100%}"
)


def html_report(markdown_text: str, pictures: dict[str, bytes]) -> str:
    """A self-contained page: the same markdown (Python-Markdown, tables extension) with the
    figures inlined as data URIs instead of links to figures/."""
    for name, data in pictures.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode()
        markdown_text = markdown_text.replace(f"](figures/{name})", f"]({uri})")
    body = markdown.markdown(markdown_text, extensions=["tables"])
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>CSXA report</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )
