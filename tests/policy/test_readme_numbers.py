"""Numbers in the README that come from a function: the README shows that function's output."""

from __future__ import annotations

from pathlib import Path

from csxa_lightning.results.paper_tables import decoded_paper_markdown, paper_power_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_shows_the_decoded_paper_table_as_computed():
    readme = README.read_text()
    decoded = decoded_paper_markdown()
    table = [line for line in decoded.splitlines() if line.startswith("|")]
    assert len(table) == 10  # header, rule, 8 matrices (VGG19 fits two healthy counts)
    for line in table:
        assert line in readme, line
    assert decoded.splitlines()[-1] in readme  # the computed conclusions


def test_the_readme_shows_the_power_of_the_papers_test_set_as_computed():
    readme = README.read_text()
    lines = [line for line in paper_power_markdown().splitlines() if line]
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 7  # header, rule, five discordance rates
    assert len(lines) == 9  # the table, balanced accuracy, the paper's largest claimed gain
    for line in lines:
        assert line in readme, line
