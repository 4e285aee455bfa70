"""report.html read as a person would, at 1280 px in headless Chromium: no table wider than the
page's text column, no page that scrolls sideways, no number (an interval) broken over two
lines. For the sweep report of fabricated runs (the golden report's: two seeds, a degenerate
model, long paths in the Grad-CAM lines) and for evaluate's report of a checkpoint whose path
is long.

With CSXA_REPORT_SHOTS=<folder> the test also leaves screenshots there, 1280 px wide: the
sweep report's header, Table 1 and second table, and the top of evaluate's report.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csxa_lightning.metrics.classification import metrics_with_intervals
from csxa_lightning.results.document import build_report
from csxa_lightning.results.evaluation_report import write_evaluation_report
from tests.unit.test_report_golden import marked_sweep

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH = 1280  # a laptop's screen
# Appended to a copy of the page: measures the laid-out page and writes the numbers into it,
# where --dump-dom finds them.
MEASURE = """<script>
const page = document.documentElement;
const body = getComputedStyle(document.body);
const column = document.body.clientWidth - parseFloat(body.paddingLeft)
  - parseFloat(body.paddingRight);
const tables = [...document.querySelectorAll('table')]
  .map(t => Math.ceil(t.getBoundingClientRect().width));
const broken = [...document.querySelectorAll('td.number')].filter(cell => {
  const range = document.createRange();
  range.selectNodeContents(cell);
  return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
}).map(cell => cell.textContent);
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = JSON.stringify({page: page.clientWidth, scroll: page.scrollWidth, column,
  tables, broken, numbers: document.querySelectorAll('td.number').length});
document.body.appendChild(out);
</script>"""
# Appended to a copy of the page for a screenshot: drops everything above the heading.
FROM_HEADING = """<script>
const heading = [...document.querySelectorAll('h1,h2,h3')]
  .find(h => h.textContent.startsWith(%s));
while (heading.previousSibling) heading.previousSibling.remove();
</script>"""
LONG_FOLDER = "a_folder_whose_name_runs_on_" * 4


@pytest.fixture(scope="module")
def browser() -> str:
    found = next(filter(None, map(shutil.which, BROWSERS)), None)
    if found is None:
        pytest.skip(f"no Chromium on PATH ({', '.join(BROWSERS)}): apt-get install chromium")
    return found


def run_browser(browser: str, *arguments: str) -> str:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    done = subprocess.run(
        [*command, *arguments], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def with_script(page: Path, script: str, name: str) -> Path:
    """A copy of page beside it with script run at its end (figures stay inlined)."""
    copy = page.with_name(name)
    copy.write_text(page.read_text().replace("</body>", script + "</body>"))
    return copy


def measured(browser: str, page: Path) -> dict:
    """MEASURE's numbers of page laid out WIDTH px wide."""
    copy = with_script(page, MEASURE, "measured.html")
    dom = run_browser(browser, f"--window-size={WIDTH},900", "--dump-dom", copy.as_uri())
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


def screenshot(browser: str, page: Path, heading: str, png: Path, height: int = 1000) -> None:
    """A WIDTH px wide picture of page from heading down."""
    copy = with_script(page, FROM_HEADING % json.dumps(heading), "shot.html")
    png.parent.mkdir(parents=True, exist_ok=True)
    run_browser(browser, f"--window-size={WIDTH},{height}", f"--screenshot={png}", copy.as_uri())


def assert_fits(numbers: dict, tables: int) -> None:
    assert len(numbers["tables"]) == tables and numbers["numbers"] > 0, numbers
    assert numbers["scroll"] <= numbers["page"], numbers  # nothing runs off the page
    assert max(numbers["tables"]) <= numbers["column"], numbers
    assert numbers["broken"] == [], numbers


@pytest.mark.slow  # a browser: a few seconds per page
def test_the_sweep_report_fits_1280_px(browser, tmp_path):
    sweep = tmp_path / LONG_FOLDER / "sweep"
    sweep.mkdir(parents=True)
    marked_sweep(sweep)
    page = build_report(sweep)["html"]
    # departures, Table 1, intervals, against the baseline, samples, repetitions, ensembles
    # over seeds, calibration, subgroups, checklist, the paper's decoded table, runs
    # (software: no table, these runs recorded no environment)
    assert_fits(measured(browser, page), tables=12)
    shots = os.environ.get("CSXA_REPORT_SHOTS")
    if shots:
        for name, heading in (
            ("report_header.png", "CSXA preprocessing ablation"),
            ("report_table1.png", "Table 1"),
            ("report_table2.png", "What the paper does not show"),
        ):
            screenshot(browser, page, heading, Path(shots) / name)


@pytest.mark.slow  # a browser: a few seconds per page
def test_the_evaluation_report_of_a_checkpoint_with_a_long_path_fits_1280_px(browser, tmp_path):
    labels = np.r_[np.zeros(20, int), np.ones(80, int)]
    prob = np.where(labels == 1, 0.9, 0.6)  # always "diseased": a degenerate model
    predictions = pd.DataFrame(
        {"case_id": range(100), "stem": [f"{i:04d}130" for i in range(100)], "label": labels,
         "prob_diseased": prob, "pred": (prob >= 0.5).astype(int)}
    )  # fmt: skip
    metrics = metrics_with_intervals(labels, prob, seed=1)
    metrics.update(
        checkpoint=f"/home/reader/{LONG_FOLDER}/multirun/2026-01-05/14-03-22/"
        "original_vgg19,model=resnet18,seed=42/checkpoints/epoch=029-step=003750.ckpt",
        arch="resnet18",
        preprocessing="crop=none, color=none",
        films_from=f"/data/{LONG_FOLDER}/CSXA",
        subset="test",
        threshold_rule="0.5",
        temperature=1.0,
    )
    page = write_evaluation_report(tmp_path / "evaluation", predictions, metrics)["html"]
    assert "A degenerate model" in page.read_text()
    assert_fits(measured(browser, page), tables=4)  # metrics, all films, gender, age band
    shots = os.environ.get("CSXA_REPORT_SHOTS")
    if shots:
        screenshot(browser, page, "Evaluation", Path(shots) / "evaluate_header.png", 900)
