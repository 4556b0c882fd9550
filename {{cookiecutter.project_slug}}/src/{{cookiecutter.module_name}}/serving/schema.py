"""Request and response schemas of the service, derived from the training data schema.

The schema is never written by hand for one dataset: it is built from the lineage record's
``data.features`` (names, kinds, categories, numeric ranges) with ``pydantic.create_model``.

Validation policy (every violation is a 400 with the field and the reason, never a 5xx):

- **Fields**: every feature is required, under its training column name; unknown fields are
  rejected by default (``serving.extra_fields: forbid``), so a typo never silently becomes a
  missing value; ``ignore`` drops them instead (callers that send whole rows, id and target
  included).
- **Numeric features**: a JSON number (strict: no strings, no booleans), finite (no NaN or
  infinity), inside the training range widened by ``NUMERIC_MARGIN`` times its span on each side
  (a constant feature gets ``NUMERIC_MARGIN`` times its magnitude, at least 1). Values that far
  outside what the model has seen are almost always unit or encoding errors, and a model's
  extrapolation there is not something to serve silently.
- **Categorical features**: one of the categories seen in training (strict: ``"1"`` is not
  ``1``). An unknown category is rejected rather than encoded as "none of the known ones": the
  caller learns which values are accepted, and a new category becomes a retraining decision.
  A column with too many categories to list in the lineage record (``categories: null``)
  accepts any string; the pipeline's encoder then decides what an unseen value means.
- **Missing values**: ``null`` is accepted only for features that had missing values in the
  training data (``missing > 0``), because only then has the pipeline learnt how to impute them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model

if TYPE_CHECKING:
    from numpy.typing import NDArray

NUMERIC_MARGIN = 0.5
"""Accepted distance beyond the training range, as a fraction of the range's span."""

MAX_RECORDS = 1000
"""Largest number of records accepted in one request (a larger batch gets a 400)."""


def numeric_bounds(feature: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """Return the accepted ``(low, high)`` range of a numeric feature.

    Args:
        feature: One entry of lineage ``data.features`` with ``min`` and ``max``.

    Returns:
        The training range widened by ``NUMERIC_MARGIN`` times its span on each side;
        ``(None, None)`` (any finite number) when training saw no value (an all-missing column).
    """
    if feature.get("min") is None or feature.get("max") is None:
        return None, None
    low, high = float(feature["min"]), float(feature["max"])
    span = high - low
    if span <= 0:
        span = max(1.0, abs(high))
    pad = NUMERIC_MARGIN * span
    return low - pad, high + pad


def _field_key(index: int) -> str:
    # Column names need not be Python identifiers ("mean radius", "1st"): fields get safe
    # internal names and the column name as their alias, which is what clients send.
    return f"f{index}"


def _feature_type(feature: Mapping[str, Any]) -> tuple[Any, Any]:
    name = feature["name"]
    nullable = float(feature.get("missing") or 0.0) > 0
    if feature["kind"] == "numeric":
        low, high = numeric_bounds(feature)
        annotation: Any = float
        field = Field(
            alias=name,
            ge=low,
            le=high,
            allow_inf_nan=False,
            strict=True,
            description=f"numeric; training range [{feature['min']}, {feature['max']}]",
        )
    elif feature["kind"] == "categorical":
        categories = feature.get("categories")
        if categories:
            annotation = Literal[tuple(categories)]  # built from data
            field = Field(alias=name, description="categorical; one of the listed values")
        else:  # too many categories to list: any string, the encoder handles unseen values
            annotation = str
            field = Field(alias=name, strict=True, description="categorical")
    else:
        msg = f"feature {name!r} has unknown kind {feature['kind']!r}"
        raise ValueError(msg)
    if nullable:
        annotation = Optional[annotation]  # noqa: UP045  # runtime type object, works on 3.10
    return annotation, field


def record_model(
    features: Sequence[Mapping[str, Any]],
    name: str = "Record",
    extra: Literal["forbid", "ignore"] = "forbid",
) -> type[BaseModel]:
    """Build the pydantic model of one input record from lineage ``data.features``.

    Args:
        features: The lineage record's ``data.features`` list.
        name: Class name of the model (shown in the OpenAPI schema).
        extra: Fields beyond the features: ``forbid`` (a validation error) or ``ignore``.

    Returns:
        A pydantic model with one required field per feature (aliased to the column name).

    Raises:
        ValueError: If the feature list is empty or a feature is malformed.
    """
    if not features:
        msg = "the lineage record lists no features"
        raise ValueError(msg)
    # (type, FieldInfo) pairs; Any: create_model's **field_definitions takes any value
    fields: dict[str, Any] = {_field_key(i): _feature_type(f) for i, f in enumerate(features)}
    config = ConfigDict(extra=extra, populate_by_name=False, frozen=True)
    return create_model(name, __config__=config, **fields)


def prediction_model(task: str, classes: Sequence[Any] | None = None) -> type[BaseModel]:
    """Build the pydantic model of one prediction.

    Classification: ``prediction`` (the class label) and ``probabilities`` (class label as a
    string -> probability; ``null`` for estimators without ``predict_proba``).
    Regression: ``{"prediction": <number>}``.

    Args:
        task: ``"classification"`` or ``"regression"``.
        classes: The class labels (lineage ``data.classes``), for the schema description.

    Returns:
        The pydantic model of one prediction.
    """
    config = ConfigDict(extra="forbid")
    if task == "classification":
        label = Union[bool, int, float, str]  # noqa: UP007  # runtime type object, works on 3.10
        return create_model(
            "Prediction",
            __config__=config,
            prediction=(label, Field(description=f"predicted class, one of {list(classes or [])}")),
            probabilities=(
                Optional[dict[str, float]],  # noqa: UP045  # runtime type object, works on 3.10
                Field(default=None, description="probability of each class, keyed by label"),
            ),
        )
    if task == "regression":
        return create_model(
            "Prediction",
            __config__=config,
            prediction=(float, Field(description="predicted value")),
        )
    msg = f"unknown task {task!r}"
    raise ValueError(msg)


def example_record(features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return a valid record: the middle of each numeric range, the first of each category.

    Args:
        features: The lineage record's ``data.features`` list.

    Returns:
        A dict keyed by column name, usable as an API example and as test input.
    """
    record: dict[str, Any] = {}
    for feature in features:
        if feature["kind"] == "numeric":
            low, high = feature.get("min"), feature.get("max")
            middle = 0.0 if low is None or high is None else (float(low) + float(high)) / 2
            record[feature["name"]] = round(middle, 6) if math.isfinite(middle) else 0.0
        elif feature.get("categories"):
            record[feature["name"]] = feature["categories"][0]
        else:
            record[feature["name"]] = "unknown"
    return record


def record_rows(
    records: Sequence[BaseModel], features: Sequence[Mapping[str, Any]]
) -> list[list[Any]]:
    """The values of validated records, one list per record in the order of ``features``.

    Args:
        records: Instances of the model returned by :func:`record_model` for ``features``.
        features: The lineage record's ``data.features`` list.

    Returns:
        One value per feature (None where the record has ``null``), the rows
        :class:`.inference.Inference` predicts.
    """
    keys = [_field_key(i) for i in range(len(features))]
    return [[getattr(record, key) for key in keys] for record in records]


def check_rows(
    frame: pd.DataFrame, features: Sequence[Mapping[str, Any]]
) -> tuple[pd.DataFrame, pd.Series]:
    """Apply the service's validation policy (module docstring) to a whole frame at once.

    The vectorised twin of :func:`record_model` for batch scoring: the same bounds
    (:func:`numeric_bounds`), categories and missing-value rule, without a pydantic object per
    row. Columns must be present (the caller refuses a file without them); other columns are
    ignored.

    Args:
        frame: Rows as read from a file (any dtypes).
        features: The lineage record's ``data.features`` list.

    Returns:
        The feature columns converted as in training (numeric float64, categorical str with
        missing values None), and per row the first reason it is refused ("" for a valid row).
    """
    from pandas.api.types import infer_dtype

    from ..data import to_numbers  # batch only: the bento's service never imports data.py

    names = [f["name"] for f in features]
    refused = np.zeros(len(frame), dtype=bool)
    reasons = np.full(len(frame), "", dtype=object)
    columns: dict[str, Any] = {}

    def refuse(mask: NDArray[np.bool_], why: str, raw: pd.Series) -> None:
        fresh = np.flatnonzero(np.asarray(mask) & ~refused)
        if len(fresh):  # bad rows are few: one message each, with the value as read
            reasons[fresh] = [f"{why} (got {value!r})" for value in raw.to_numpy()[fresh]]
            refused[fresh] = True

    for feature in features:
        name, raw = feature["name"], frame[feature["name"]]
        nullable = float(feature.get("missing") or 0.0) > 0
        missing = raw.isna().to_numpy()
        if not nullable:
            refuse(missing, f"{name!r}: missing (training data had no missing values)", raw)
        if feature["kind"] == "numeric":
            # Training's number rules (data.to_numbers: "1e400" is infinite, "1_000" is no number).
            values = raw if raw.dtype == "float64" else to_numbers(raw)
            numbers = values.to_numpy()
            refuse(np.isnan(numbers) & ~missing, f"{name!r}: not a number", raw)
            refuse(np.isinf(numbers), f"{name!r}: not finite", raw)
            low, high = numeric_bounds(feature)
            if low is not None and high is not None:
                with np.errstate(invalid="ignore"):
                    outside = (numbers < low) | (numbers > high)
                refuse(outside, f"{name!r}: outside the accepted range [{low:g}, {high:g}]", raw)
            columns[name] = values
        else:
            # Categories are strings, as training made them; text read as text needs no str().
            text = raw if infer_dtype(raw, skipna=True) in ("string", "empty") else raw.astype(str)
            text = text.astype("object", copy=False)
            if missing.any():  # astype(str) spelt them "nan": missing stays missing (None)
                text = text.where(~missing, None)
            categories = feature.get("categories")
            if categories:
                known = text.isin([str(c) for c in categories]).to_numpy() | missing
                refuse(~known, f"{name!r}: not one of the categories seen in training", raw)
            columns[name] = text
    checked = pd.DataFrame(columns, columns=names, index=frame.index)
    return checked, pd.Series(reasons, index=frame.index)
