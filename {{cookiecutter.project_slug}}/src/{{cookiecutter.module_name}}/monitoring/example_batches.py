"""Example batches from the training data, one stable and one shifted (``make batches``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifacts import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Params
    from ..data import Dataset


#: The example drifted batch shifts this many numeric features by SHIFT_STD standard deviations.
SHIFTED_FEATURES = 3


SHIFT_STD = 1.0


BATCH_ROWS = 200


def make_batches(
    raw: pd.DataFrame, reference: Dataset, seed: int, rows: int = BATCH_ROWS
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Return (stable, drifted, shifted feature names) drawn from the training data's rows.

    The stable batch is a random sample of the rows; the drifted batch is another sample whose
    first :data:`SHIFTED_FEATURES` numeric features with at least 10 distinct values are moved by
    :data:`SHIFT_STD` standard deviations (or, without such features, whose first categorical
    feature takes its rarest value in half of the rows). Both keep the file's columns.
    """
    import numpy as np

    rows = min(rows, len(raw))
    stable = raw.sample(n=rows, random_state=seed).reset_index(drop=True)
    drifted = raw.sample(n=rows, random_state=seed + 1).reset_index(drop=True)
    frame = reference.frame
    numeric = [c for c in reference.numeric if frame[c].nunique() >= 10][:SHIFTED_FEATURES]
    for column in numeric:
        values = drifted[column].astype("float64")
        drifted[column] = (values + SHIFT_STD * float(frame[column].std())).round(6)
    shifted = list(numeric)
    if not shifted and reference.categorical:
        column = reference.categorical[0]
        rarest = frame[column].value_counts().index[-1]
        rng = np.random.default_rng(seed)
        drifted.loc[rng.random(rows) < 0.5, column] = rarest
        shifted = [column]
    return stable, drifted, shifted


def write_batches(
    params: Params, root: Path, out_dir: Path, rows: int = BATCH_ROWS
) -> dict[str, Any]:
    """Write ``stable.csv`` and ``drifted.csv`` under ``out_dir``; return what was written."""
    from ..data import load_dataset, read_csv

    reference = load_dataset(params, root)
    raw = read_csv(reference.path, params.data.path)
    stable, drifted, shifted = make_batches(raw, reference, params.seed, rows)
    written = {}
    for name, frame in (("stable", stable), ("drifted", drifted)):
        path = out_dir / f"{name}.csv"
        atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))
        written[name] = path
    return {"paths": written, "rows": len(stable), "shifted": shifted}
