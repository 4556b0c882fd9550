"""Scoring one chunk: the service's validation policy, then the pipeline on the valid rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .models import Model

if TYPE_CHECKING:
    import pandas as pd


PREDICTION = "prediction"
PROBABILITY_PREFIX = "probability_"
#: Columns of the rejects file besides the row's own columns.
REJECT_LINE, REJECT_REASON = "line", "reason"


@dataclass(frozen=True)
class ChunkResult:
    """Predictions of the valid rows of one chunk, and the refused rows with their reasons."""

    predictions: pd.DataFrame
    rejects: pd.DataFrame
    rows: int


def output_columns(model: Model) -> list[str]:
    """The prediction columns: ``prediction``, and one probability column per class."""
    columns = [PREDICTION]
    if model.task == "classification" and hasattr(model.pipeline, "predict_proba"):
        columns += [f"{PROBABILITY_PREFIX}{c}" for c in model.pipeline.classes_.tolist()]
    return columns


def score_chunk(
    frame: pd.DataFrame,
    pipeline: Any,  # noqa: ANN401 - any fitted scikit-learn pipeline
    lineage: dict[str, Any],
    id_column: str | None,
) -> ChunkResult:
    """Validate one chunk with the service's policy and predict its valid rows.

    A pure function of its arguments: the in-process and the Dask paths both call it, so they
    give identical predictions. Row positions in ``rejects`` are relative to the chunk.
    """
    import numpy as np
    import pandas as pd

    from ..serving.schema import check_rows

    features = lineage["data"]["features"]
    converted, reasons = check_rows(frame, features)
    good = (reasons == "").to_numpy()
    model = Model(pipeline, lineage, "")
    out = pd.DataFrame(index=range(int(good.sum())))
    if id_column is not None:
        out[id_column] = frame[id_column].to_numpy()[good]
    rows = converted if good.all() else converted[good]
    columns = output_columns(model)
    if len(rows):
        if model.task == "classification" and len(columns) > 1:
            steps: list[tuple[str, Any]] = getattr(pipeline, "steps", [])
            head, tail = (pipeline[:-1], steps[-1][1]) if len(steps) > 1 else (None, pipeline)
            inputs = head.transform(rows) if head is not None else rows
            out[PREDICTION] = tail.predict(inputs)
            out[columns[1:]] = tail.predict_proba(inputs)
        else:
            out[PREDICTION] = pipeline.predict(rows)
    else:
        for column in columns:
            out[column] = pd.Series(dtype="float64")
    bad = ~good
    rejects = frame[bad].astype("object").reset_index(drop=True)
    rejects.insert(0, REJECT_REASON, reasons[bad].to_numpy())
    rejects.insert(0, REJECT_LINE, np.flatnonzero(bad))
    return ChunkResult(out, rejects, len(frame))
