"""Preview's `cases`: a 7-digit stem, leading zeros included, or a case id without them."""

from __future__ import annotations

import pandas as pd
import pytest

from csxa_lightning.results.preview import PreviewCaseError, select_cases

# Stems are case id (4 digits), gender code (1), age (2): 0001035 is case 1, 1035130 case 1035.
INDEX = pd.DataFrame(
    {
        "stem": ["0001035", "1035130", "2548130"],
        "case_id": [1, 1035, 2548],
        "label": [0, 1, 1],
    }
)


@pytest.mark.parametrize(
    "case, stems",
    [
        ("0001035", ["0001035"]),  # a stem: the film of case 1 (Hydra keeps leading zeros)
        (1035, ["1035130"]),  # a case id: case 1035's film, not 0001035
        (1, ["0001035"]),
        ("2548130", ["2548130"]),
    ],
)
def test_a_stem_keeps_its_leading_zeros_and_a_short_number_is_a_case_id(case, stems):
    assert select_cases(INDEX, [case])["stem"].tolist() == stems


def test_a_case_that_is_not_there_names_both_forms():
    with pytest.raises(PreviewCaseError, match=r"neither a stem nor a case id .*2548130"):
        select_cases(INDEX, ["0009999"])


def test_the_preview_names_each_films_class():
    from csxa_lightning.results.preview import film_caption

    assert film_caption({"stem": "2548130", "label": 0}) == "2548130 healthy"
    assert film_caption({"stem": "0001035", "label": 1}) == "0001035 diseased"
