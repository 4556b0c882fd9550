"""The fitted preprocessor of :func:`.features.build_preprocessor`, run as plain numpy operations.

scikit-learn checks and converts its input at every step of every call. For one row that is
nearly all of a ``transform``: ~1 ms for 30 numeric columns in a tight loop, ~3 ms in a server
whose caches went cold between requests, where the arithmetic itself takes microseconds. Once
fitted, the steps this project builds are simple: :func:`compile_preprocessor` reads their fitted
values, and :class:`CompiledFeatures` repeats the same float operations in the same order
(median fill, ``x -= mean_``, ``x /= scale_``, one-hot columns).

The output is the fitted ColumnTransformer's, bit for bit. :func:`compile_preprocessor` proves it
on probe rows before it returns (each range's ends and middle, every category, a category never
seen, every value missing) and raises :class:`NotCompilable` for anything it does not recognise:
a preprocessor edited in features.py, or a scikit-learn version that computes differently.
Callers then keep scikit-learn (:class:`..serving.inference.Inference`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .features import MISSING, as_nan, rows_frame

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from sklearn.pipeline import Pipeline

UNSEEN = "\x00never seen in training"
"""A probe category no training data holds: it must encode as all zeros."""


class NotCompilable(ValueError):
    """The pipeline is not one this module can run without scikit-learn (the message says why)."""


@dataclass(frozen=True)
class NumericBlock:
    """Median (or mean) imputation, then standard scaling, of some features."""

    positions: list[int]
    fill: NDArray[np.float64]
    mean: NDArray[np.float64] | None
    scale: NDArray[np.float64] | None

    def transform(self, rows: Sequence[Sequence[Any]]) -> NDArray[np.float64]:
        """The block's output columns for ``rows``."""
        values = np.array([[row[i] for i in self.positions] for row in rows], dtype=np.float64)
        missing = np.isnan(values)  # None became NaN
        if missing.any():
            values[missing] = np.broadcast_to(self.fill, values.shape)[missing]
        if self.mean is not None:  # in place and in this order, as StandardScaler computes
            values -= self.mean
        if self.scale is not None:
            values /= self.scale
        return values


@dataclass(frozen=True)
class CategoricalBlock:
    """Missing values as a category of their own, then one-hot columns (unseen: all zeros)."""

    positions: list[int]
    columns: list[dict[str, int]]
    """Per feature: category -> its output column."""
    width: int

    def transform(self, rows: Sequence[Sequence[Any]]) -> NDArray[np.float64]:
        """The block's output columns for ``rows``."""
        out = np.zeros((len(rows), self.width), dtype=np.float64)
        for r, row in enumerate(rows):
            for position, columns in zip(self.positions, self.columns, strict=True):
                value = row[position]
                column = columns.get(MISSING if value is None else value)
                if column is not None:
                    out[r, column] = 1.0
        return out


Block = NumericBlock | CategoricalBlock


@dataclass(frozen=True)
class CompiledFeatures:
    """The fitted preprocessor: one block per ColumnTransformer transformer, in its order."""

    blocks: list[Block]

    def transform(self, rows: Sequence[Sequence[Any]]) -> NDArray[np.float64]:
        """Feature rows (lineage order, None for missing) -> the estimator's input matrix."""
        parts = [block.transform(rows) for block in self.blocks]
        return parts[0] if len(parts) == 1 else np.hstack(parts)


def compile_preprocessor(
    pipeline: Pipeline, features: Sequence[Mapping[str, Any]]
) -> CompiledFeatures:
    """Compile the first step of a fitted ``preprocess -> model`` pipeline, and prove it.

    Args:
        pipeline: The fitted pipeline of :func:`.train.build_pipeline`.
        features: The lineage record's ``data.features`` list (the order of a row's values).

    Returns:
        The preprocessor as numpy operations, equal to ``pipeline[:-1].transform`` on the probes.

    Raises:
        NotCompilable: If a step is not the one features.py builds, or the probes differ.
    """
    try:
        compiled = CompiledFeatures(_blocks(pipeline, [f["name"] for f in features]))
    except AttributeError as error:  # a fitted value this scikit-learn version keeps elsewhere
        msg = f"a fitted value is missing: {error}"
        raise NotCompilable(msg) from None
    probes = probe_rows(features)
    for batch in (probes[:-1], probes):  # a batch without a missing value, then one with
        try:
            expected = np.asarray(pipeline[:-1].transform(rows_frame(batch, features)))
        except (ValueError, TypeError) as error:
            msg = f"scikit-learn refuses the probe rows: {error}"
            raise NotCompilable(msg) from None
        got = compiled.transform(batch)
        same = got.shape == expected.shape and got.dtype == expected.dtype
        if not same or not np.array_equal(got, expected):
            msg = "its output differs from scikit-learn's on the probe rows"
            raise NotCompilable(msg)
    return compiled


def probe_rows(features: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Rows that reach every branch: each range's ends and middle, each category, unseen, None."""
    categories = [[*(f.get("categories") or []), UNSEEN] for f in features]
    count = max([3, *(len(c) for c in categories)])
    rows: list[list[Any]] = []
    for r in range(count):
        row: list[Any] = []
        for feature, known in zip(features, categories, strict=True):
            if feature["kind"] == "numeric":
                low, high = (
                    0.0 if v is None else float(v) for v in (feature.get("min"), feature.get("max"))
                )
                row.append((low, (low + high) / 2, high)[r % 3])
            else:
                row.append(known[r % len(known)])
        rows.append(row)
    rows.append([None] * len(features))
    return rows


def _blocks(pipeline: Pipeline, names: list[str]) -> list[Block]:
    from sklearn.compose import ColumnTransformer

    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2 or not isinstance(steps[0][1], ColumnTransformer):
        msg = "not a two-step pipeline that starts with a ColumnTransformer"
        raise NotCompilable(msg)
    preprocessor: ColumnTransformer = steps[0][1]
    if preprocessor.sparse_output_:
        msg = "the preprocessor's output is sparse"
        raise NotCompilable(msg)
    position = {name: i for i, name in enumerate(names)}
    blocks: list[Block] = []
    for name, transformer, columns in preprocessor.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue  # the remainder, or a dropped transformer: no output columns
        selected = list(columns) if isinstance(columns, list | tuple | np.ndarray) else []
        if not selected or any(not isinstance(c, str) or c not in position for c in selected):
            msg = f"transformer {name!r} selects columns that are not the features by name"
            raise NotCompilable(msg)
        block = _block(name, transformer, [position[str(column)] for column in selected])
        width = len(block.positions) if isinstance(block, NumericBlock) else block.width
        span = preprocessor.output_indices_[name]
        if span.stop - span.start != width:
            msg = f"transformer {name!r} outputs {span.stop - span.start} columns, not {width}"
            raise NotCompilable(msg)
        blocks.append(block)
    if not blocks:
        msg = "the preprocessor has no transformer"
        raise NotCompilable(msg)
    return blocks


def _block(name: str, transformer: Any, positions: list[int]) -> Block:  # noqa: ANN401
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    steps = [step for _, step in transformer.steps] if isinstance(transformer, Pipeline) else []
    kinds = [type(step) for step in steps]
    if kinds == [SimpleImputer, StandardScaler]:
        imputer, scaler = steps
        if imputer.strategy not in {"median", "mean"} or not _plain(imputer):
            msg = f"transformer {name!r}: imputer is not median or mean, NaN only, kept columns"
            raise NotCompilable(msg)
        return NumericBlock(
            positions,
            np.asarray(imputer.statistics_, dtype=np.float64),
            scaler.mean_ if scaler.with_mean else None,
            scaler.scale_ if scaler.with_std else None,
        )
    if kinds == [FunctionTransformer, SimpleImputer, OneHotEncoder]:
        missing, imputer, encoder = steps
        plain_encoder = (
            encoder.handle_unknown == "ignore"
            and encoder.drop_idx_ is None
            and not getattr(encoder, "_infrequent_enabled", False)
        )
        if missing.func is not as_nan or imputer.strategy != "constant" or not plain_encoder:
            msg = f"transformer {name!r}: not features.py's categorical steps"
            raise NotCompilable(msg)
        if imputer.fill_value != MISSING or not _nan_only(imputer) or imputer.add_indicator:
            msg = f"transformer {name!r}: imputer does not fill NaN only with {MISSING!r}"
            raise NotCompilable(msg)
        columns: list[dict[str, int]] = []
        offset = 0
        for categories in encoder.categories_:
            if not all(isinstance(category, str) for category in categories):
                msg = f"transformer {name!r}: a category is not a string"
                raise NotCompilable(msg)
            columns.append({category: offset + i for i, category in enumerate(categories)})
            offset += len(categories)
        return CategoricalBlock(positions, columns, offset)
    msg = f"transformer {name!r}: steps {[k.__name__ for k in kinds]} are not features.py's"
    raise NotCompilable(msg)


def _nan_only(imputer: Any) -> bool:  # noqa: ANN401 - a fitted SimpleImputer
    missing = imputer.missing_values
    return isinstance(missing, float) and bool(np.isnan(missing))


def _plain(imputer: Any) -> bool:  # noqa: ANN401 - a fitted SimpleImputer
    return _nan_only(imputer) and imputer.keep_empty_features and not imputer.add_indicator
