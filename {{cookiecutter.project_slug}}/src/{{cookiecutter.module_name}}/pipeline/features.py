"""Feature preprocessing: one scikit-learn ColumnTransformer for numeric and categorical data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray
    from sklearn.compose import ColumnTransformer

#: Placeholder category for missing values of categorical columns.
MISSING = "__missing__"


def as_nan(frame: Any) -> Any:  # noqa: ANN401 - a DataFrame or array, as scikit-learn passes it
    """Make every missing value of categorical columns NaN (``None`` included).

    SimpleImputer treats NaN as missing but keeps ``None`` as a value of its own: a pipeline
    that saw NaN in training would encode a ``None`` from a caller as an unseen category (all
    zeros), and the reverse. With this step both spellings get the same prediction.
    """
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(frame).astype("object")
    return frame.where(frame.notna(), np.nan)


def build_preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """Return an unfitted preprocessor for the given columns.

    Numeric columns: median imputation, then standard scaling. Categorical columns (strings):
    missing values (NaN or None alike) become their own category, then one-hot encoding that
    ignores categories unseen in training (they encode as all zeros). Output is a dense float
    array.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    transformers = []
    if numeric:
        numeric_steps = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", StandardScaler()),
            ]
        )
        transformers.append(("numeric", numeric_steps, list(numeric)))
    if categorical:
        categorical_steps = Pipeline(
            [
                ("missing", FunctionTransformer(as_nan, feature_names_out="one-to-one")),
                ("impute", SimpleImputer(strategy="constant", fill_value=MISSING)),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        transformers.append(("categorical", categorical_steps, list(categorical)))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def _column(values: list[Any], numeric: bool) -> NDArray[Any]:  # float or object values
    import numpy as np

    if numeric:
        return np.array(values, dtype=float)  # None -> NaN
    if any(value is None or isinstance(value, str) for value in values):
        # Objects, as read_csv gives: a numpy string array would drop trailing NUL characters
        # ("c1\x00" would become "c1"). Missing categories are NaN.
        return np.array([np.nan if value is None else value for value in values], dtype=object)
    return np.array(values)  # the type numpy infers (int -> int64, as read_csv gives)


def rows_frame(
    rows: Sequence[Sequence[Any]], features: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    """Turn rows of feature values into the DataFrame the pipeline was trained on.

    Args:
        rows: One value per feature, in the order of ``features``; None for a missing value.
        features: The lineage record's ``data.features`` list.

    Returns:
        One row per input row, columns named and ordered as in training; numeric columns are
        float (None becomes NaN for the imputer).
    """
    import numpy as np
    import pandas as pd

    names = [f["name"] for f in features]
    numeric = [f["kind"] == "numeric" for f in features]
    if all(numeric):  # one float block: much faster to build than column by column
        return pd.DataFrame(np.array(rows, dtype=float).reshape(len(rows), len(names)),
                            columns=names, copy=False)  # fmt: skip
    columns = {name: _column([row[i] for row in rows], numeric[i]) for i, name in enumerate(names)}
    return pd.DataFrame(columns, columns=names, copy=False)
