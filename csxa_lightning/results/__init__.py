"""The report: what the finished run folders show, computed first, then written.

comparisons.py computes every number of the sweep report once (run_table.py, baseline.py,
repeats.py, clinical.py, published.py); tables.py, paper_tables.py, sweep_header.py,
judgement.py, software.py and figures.py write it (formatting.py: how a number and a run's
name read; degenerate.py: how a model that answers one class is named),
sweep_markdown.py puts the sections in order and document.py writes report.md, report.csv,
report.html and figures/. cam_section.py adds the Grad-CAM pictures; evaluation_report.py is
evaluate's one-model report."""
