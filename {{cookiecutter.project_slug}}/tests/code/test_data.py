from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.module_name }}.config import parse_params
from {{ cookiecutter.module_name }}.data import (
    SAMPLE_FILES,
    load_dataset,
    sample_frame,
    split,
    split_sizes,
    validate_frame,
    write_sample,
)
from {{ cookiecutter.module_name }}.errors import DataError

pytestmark = pytest.mark.code


@pytest.mark.parametrize(
    ("task", "rows", "columns"), [("classification", 569, 31), ("regression", 442, 11)]
)
def test_write_sample_writes_the_bundled_dataset(
    tmp_path: Path, base_params: Callable[..., dict[str, Any]], task: str, rows: int, columns: int
) -> None:
    params = parse_params(base_params(task, data={"path": SAMPLE_FILES[task]}))
    path, written = write_sample(task, tmp_path)
    assert written
    assert path == tmp_path / SAMPLE_FILES[task]
    frame = pd.read_csv(path)
    assert frame.shape == (rows, columns)
    assert "target" in frame.columns
    assert not list(path.parent.glob(".*.tmp")), "no temporary file left behind"
    dataset = load_dataset(params, tmp_path)
    assert len(dataset.frame) == rows
    assert len(dataset.sha256) == 64


def test_write_sample_never_overwrites_a_users_file(tmp_path: Path) -> None:
    mine = tmp_path / SAMPLE_FILES["classification"]
    mine.parent.mkdir()
    mine.write_text("a,target\n1,0\n", encoding="utf-8")
    path, written = write_sample("classification", tmp_path)
    assert not written
    assert path.read_text(encoding="utf-8") == "a,target\n1,0\n"


def test_the_sample_keeps_its_own_target_column() -> None:
    assert "target" in sample_frame("regression").columns


def test_features_are_inferred_from_dtypes(
    tmp_path: Path, base_params: Callable[..., dict[str, Any]], make_frame: Callable[..., Any]
) -> None:
    params = parse_params(base_params(data={"path": "d.csv", "exclude": ["visits"]}))
    make_frame().to_csv(tmp_path / "d.csv", index=False)
    dataset = load_dataset(params, tmp_path)
    assert dataset.numeric == ["age", "income"]
    assert dataset.categorical == ["city", "plan"]
    assert dataset.classes == ["no", "yes"]


def test_explicit_feature_lists_win(
    tmp_path: Path, base_params: Callable[..., dict[str, Any]], make_frame: Callable[..., Any]
) -> None:
    data = {"path": "d.csv", "numeric_features": ["age"], "categorical_features": ["visits"]}
    params = parse_params(base_params(data=data))
    make_frame().to_csv(tmp_path / "d.csv", index=False)
    dataset = load_dataset(params, tmp_path)
    assert dataset.features == ["age", "visits"]
    assert set(dataset.frame["visits"].dropna().map(type)) == {str}


def test_split_is_seeded_and_stratified(
    base_params: Callable[..., dict[str, Any]], make_frame: Callable[..., Any]
) -> None:
    params = parse_params(base_params())
    dataset = validate_frame(make_frame(rows=100), params, "d.csv")
    first = split(dataset, 0.25, 7, stratify=True)
    again = split(dataset, 0.25, 7, stratify=True)
    other = split(dataset, 0.25, 8, stratify=True)
    assert first[0].index.equals(again[0].index)
    assert not first[0].index.equals(other[0].index)
    assert len(first[1]) == 25


# --- property tests ------------------------------------------------------------------------

labels = st.lists(st.sampled_from(["a", "b", "c"]), min_size=12, max_size=80).filter(
    lambda ys: min(pd.Series(ys).value_counts()) >= 4 and len(set(ys)) >= 2
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(ys=labels, test_size=st.floats(0.2, 0.5), seed=st.integers(0, 2**16))
def test_split_keeps_every_row_once_and_the_class_ratios(
    ys: list[str], test_size: float, seed: int
) -> None:
    frame = pd.DataFrame({"x": np.arange(len(ys), dtype=float), "target": ys})
    params = parse_params(
        {
            "task": "classification",
            "data": {"path": "d.csv", "test_size": test_size},
            "model": {"type": "logistic_regression"},
        }
    )
    train_rows, test_rows = split_sizes(len(frame), test_size)
    if min(train_rows, test_rows) < frame["target"].nunique():
        # too few rows for this test size: rejected with a clear rule
        with pytest.raises(DataError, match="too few rows to split"):
            validate_frame(frame, params, "d.csv")
        return
    dataset = validate_frame(frame, params, "d.csv")
    x_train, x_test, y_train, y_test = split(dataset, test_size, seed, stratify=True)
    rows = sorted([*x_train["x"], *x_test["x"]])
    assert rows == list(frame["x"])
    assert (len(x_train), len(x_test)) == split_sizes(len(frame), test_size)
    overall = frame["target"].value_counts(normalize=True)
    for part in (y_train, y_test):
        ratio = part.value_counts(normalize=True).reindex(overall.index, fill_value=0)
        # stratification: each side within one row of the overall class share
        assert ((ratio - overall).abs() <= 1 / len(part) + 1e-9).all()


corruptions = st.sampled_from(["text_in_numeric", "missing_target", "drop_target", "drop_feature"])


@settings(max_examples=30, deadline=None)
@given(
    kind=corruptions,
    row=st.integers(0, 39),
    word=st.text(string.ascii_letters, min_size=1, max_size=8),
)
# Words pandas reads as numbers that no model can use: refused like any other text.
@example(kind="text_in_numeric", row=3, word="INF")
@example(kind="text_in_numeric", row=3, word="Infinity")
@example(kind="text_in_numeric", row=3, word="nan")
def test_schema_validation_rejects_corruptions(
    base_params: Callable[..., dict[str, Any]],
    make_frame: Callable[..., Any],
    kind: str,
    row: int,
    word: str,
) -> None:
    params = parse_params(
        base_params(data={"numeric_features": ["age", "income"], "categorical_features": ["city"]})
    )
    frame = make_frame(rows=40).astype({"age": object})
    if kind == "text_in_numeric":
        frame.loc[row, "age"] = word
        refused = (
            "infinite"
            if abs(float(pd.to_numeric(word, errors="coerce"))) == np.inf
            else "non-numeric"
        )
        expected = f"d.csv: column 'age': {refused} value {word!r} at line {row + 2}"
    elif kind == "missing_target":
        frame.loc[row, "target"] = None
        expected = f"d.csv: column 'target': 1 missing target value(s), first at line {row + 2}"
    elif kind == "drop_target":
        frame = frame.drop(columns="target")
        expected = "d.csv: target column 'target' (data.target in params) not found"
    else:
        frame = frame.drop(columns="income")
        expected = "d.csv: column 'income' (data.numeric_features in params) not found"
    with pytest.raises(DataError) as info:
        validate_frame(frame, params, "d.csv")
    assert expected in str(info.value)


# --- real-data corpus: what inference refuses, excludes or handles ---------------------------


def _csv(rows: int = 30, **columns: Sequence[str | float | None]) -> str:
    """A CSV with a learnable numeric x, a category, a target, and ``columns`` (name -> values)."""
    frame = pd.DataFrame(
        {
            "x": np.arange(rows, dtype=float) * 1.5,
            "kind": ["a", "b", "c"] * (rows // 3),
            "target": ["no", "yes"] * (rows // 2),
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame.to_csv(index=False)


REFUSED = {
    "inf": (_csv(x=[*range(29), "inf"]), "column 'x': infinite value inf at line 31"),
    "beyond_float": (
        _csv(x=[*range(29), "1e400"]),
        "column 'x': infinite value '1e400' at line 31",
    ),
    "stray_text": (
        _csv(w=[*range(14), "n/a?", *range(15)]),
        "column 'w': text value 'n/a?' at line 16 in a column of numbers",
    ),
    "duplicate_header": (
        "x,target,x\n" + "1,no,2\n2,yes,3\n" * 10,
        "column name 'x' appears twice in the header (columns 1 and 3)",
    ),
    "spaced_header": (
        "x,target ,kind\n" + "1,no,a\n2,yes,b\n" * 10,
        "column name 'target ' (column 2) has spaces around it; rename it to 'target'",
    ),
    "mixed_labels": (
        _csv(target=["1", "zero", "1.0"] * 10),
        "column 'target': class labels mix numbers and text ('1' at line 2, 'zero' at line 3)",
    ),
    "missing_target": (
        _csv(target=["no", "yes", None] * 10),
        "column 'target': 10 missing target value(s), first at line 4; every row needs a target"
        " (or set data.drop_missing_target: true",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_real_data_is_refused_with_column_and_line(
    tmp_path: Path, base_params: Callable[..., dict[str, Any]], case: str
) -> None:
    text, expected = REFUSED[case]
    (tmp_path / "d.csv").write_text(text, encoding="utf-8")
    params = parse_params(base_params(data={"path": "d.csv"}))
    with pytest.raises(DataError) as info:
        load_dataset(params, tmp_path)
    assert str(info.value).startswith("d.csv: ")
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_ids_and_dates_are_excluded_and_said(
    tmp_path: Path, base_params: Callable[..., dict[str, Any]]
) -> None:
    days = pd.date_range("2024-01-01", periods=30).strftime("%Y/%m/%d").tolist()
    text = _csv(row_id=range(100, 130), name=[f"car {i}" for i in range(30)], day=days)
    (tmp_path / "d.csv").write_text(text, encoding="utf-8")
    dataset = load_dataset(parse_params(base_params(data={"path": "d.csv"})), tmp_path)
    assert dataset.features == ["x", "kind"]
    assert set(dataset.excluded) == {"row_id", "name", "day"}
    assert dataset.excluded["day"].startswith("dates or times (e.g. '2024/01/01')")
    assert dataset.excluded["name"].startswith("id-like: 30 distinct values in 30 rows")
    lines = "\n".join(dataset.schema_lines())
    assert "excluded 'row_id': id-like: consecutive integers" in lines
    # declared categorical: taken as it is, no inference
    data = {"path": "d.csv", "categorical_features": ["kind", "name"], "exclude": ["day", "row_id"]}
    declared = load_dataset(parse_params(base_params(data=data)), tmp_path)
    assert declared.categorical == ["kind", "name"]
    assert declared.excluded == {
        "day": "data.exclude in params",
        "row_id": "data.exclude in params",
    }


def test_missing_targets_are_dropped_when_asked_and_counted(
    tmp_path: Path, base_params: Callable[..., dict[str, Any]]
) -> None:
    (tmp_path / "d.csv").write_text(_csv(target=["no", "yes", None] * 10), encoding="utf-8")
    data = {"path": "d.csv", "drop_missing_target": True}
    dataset = load_dataset(parse_params(base_params(data=data)), tmp_path)
    assert len(dataset.frame) == 20
    assert dataset.notes == ["dropped 10 row(s) with no 'target' (data.drop_missing_target)"]


def test_high_cardinality_categoricals_are_warned(
    tmp_path: Path, base_params: Callable[..., dict[str, Any]]
) -> None:
    codes = [f"c{i % 60}" for i in range(180)]
    (tmp_path / "d.csv").write_text(_csv(rows=180, code=codes), encoding="utf-8")
    dataset = load_dataset(parse_params(base_params(data={"path": "d.csv"})), tmp_path)
    assert "code" in dataset.categorical
    assert any("'code' has 60 categories" in note for note in dataset.notes)


def test_a_close_column_name_is_suggested(
    tmp_path: Path, base_params: Callable[..., dict[str, Any]]
) -> None:
    (tmp_path / "d.csv").write_text(_csv(), encoding="utf-8")
    params = parse_params(base_params(data={"path": "d.csv", "target": "Target"}))
    with pytest.raises(DataError, match=r"not found \(did you mean 'target'\?\)"):
        load_dataset(params, tmp_path)
