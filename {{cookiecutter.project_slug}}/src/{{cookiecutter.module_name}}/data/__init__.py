"""The data stage: get the configured data, read and validate a CSV, split it.

- :mod:`.source`: get the file params.yaml names (a DVC pull, the file as it is, or the bundled
  sample to its own file name), never a substitute;
- :mod:`.csvfile`: read a CSV, refusing what is not a usable one;
- :mod:`.columns`: which columns are features (listed, else inferred), converted;
- :mod:`.dataset`: the target's rules, the validated :class:`Dataset`, the split;
- :mod:`.values`: cell-level helpers (numbers from text, file line numbers).

Every problem with the data raises :class:`~..errors.DataError` naming the file, the column and
the rule, before any artifact is written. The names below are the stage's interface.
"""

from .columns import FeatureSchema, validate_features
from .csvfile import read_csv
from .dataset import Dataset, load_dataset, split, split_sizes, validate_frame, validate_target
from .source import (
    SAMPLE_FILES,
    Fetched,
    get_data,
    missing_data_hint,
    sample_frame,
    write_sample,
)
from .values import to_numbers

__all__ = [
    "SAMPLE_FILES",
    "Dataset",
    "FeatureSchema",
    "Fetched",
    "get_data",
    "load_dataset",
    "missing_data_hint",
    "read_csv",
    "sample_frame",
    "split",
    "split_sizes",
    "to_numbers",
    "validate_features",
    "validate_frame",
    "validate_target",
    "write_sample",
]
