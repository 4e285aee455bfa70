"""Each bad input of the catalogue (tests/bad_inputs.py) ends the command with the line the
README's troubleshooting table promises: the table is a checked contract, not prose."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bad_inputs import CASES, error_message

README = Path(__file__).resolve().parents[2] / "README.md"


def troubleshooting_table() -> dict[str, str]:
    """{bad input: the `what you see` cell without its backticks} from the README."""
    text = README.read_text()
    section = text[text.index("## Troubleshooting") :]
    section = section[: section.index("\n## ", 1)]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`"):
            rows[cells[0]] = cells[1].strip("`")
    return rows


def as_regex(shown: str) -> re.Pattern:
    """The README line as a pattern: `…` stands for any text left out."""
    return re.compile(".*".join(re.escape(part) for part in shown.split("…")))


def test_every_bad_input_of_the_catalogue_has_a_readme_row():
    rows = troubleshooting_table()
    assert [case.name for case in CASES if case.name not in rows] == []


# Messages in the config checks' shared format (`key=value: must be ...; e.g. key=example`,
# where a full stop would read as part of the example) and of the weights lookup: not the
# data's, and not yet ending with a full stop.
NOT_A_SENTENCE_YET = {
    "fraction outside 0..1",
    "bit depth not in the list",
    "seed outside numpy's range",  # config values: as the two above
    "weights file that does not exist",
}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_user_sees_the_line_the_readme_promises(case, phantom, tmp_path):
    message = error_message(case, phantom.root, tmp_path)
    first = message.splitlines()[0]
    shown = troubleshooting_table()[case.name]
    assert as_regex(shown).fullmatch(first), f"README: {shown}\nactual: {first}"
    # Every message ends with a sentence (errors and warnings; an INFO line is a list of counts).
    if case.name not in NOT_A_SENTENCE_YET and case.logged != "INFO":
        assert message.rstrip().endswith("."), message
