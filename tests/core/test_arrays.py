"""`is_in`: pandas' `isin` answer, whatever the candidates."""

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.core.arrays import is_in

TEXT = st.one_of(st.none(), st.sampled_from(["a", "b", "ab", "", "Ø", "oekonomi:1"]), st.text(max_size=3))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(TEXT, max_size=12), candidates=st.lists(st.one_of(TEXT, st.integers(0, 3)), max_size=6),
       shape=st.sampled_from(["list", "set", "array", "unique", "arrow"]))
def test_is_in_answers_as_isin(values, candidates, shape):
    series = pd.Series(values, dtype="str")
    text = [c for c in candidates if c is None or isinstance(c, str)]
    given_as = {"list": candidates, "set": set(candidates), "array": np.asarray(candidates, dtype=object),
                "unique": pd.Series(text, dtype="str").unique(), "arrow": pa.array(text, type=pa.string())}[shape]
    expected = series.isin(list(given_as) if shape in ("set", "arrow") else given_as).to_numpy(dtype=bool)
    got = is_in(series, given_as)
    assert got.dtype == bool and got.tolist() == expected.tolist()


def test_numbers_and_objects_take_isin_s_own_path():
    numbers = pd.Series([1, 2, None], dtype="Int64")
    assert is_in(numbers, [2]).tolist() == [False, True, False]
    objects = pd.Series(["a", 1, None], dtype=object)
    assert is_in(objects, ["a", 1]).tolist() == [True, True, False]
