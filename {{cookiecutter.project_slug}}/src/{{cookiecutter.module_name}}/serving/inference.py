"""What the service computes for a batch of validated rows: the model's input, then its answers.

The preprocessing runs compiled (:mod:`..pipeline.compiled_features`: the same numbers, a
fraction of the time) when the pipeline is the one this project trains; any other pipeline (a
preprocessor edited in features.py, a model saved elsewhere) runs through scikit-learn, and
:attr:`Inference.preprocessing` says which and why, for the server's log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..pipeline.compiled_features import CompiledFeatures, NotCompilable, compile_preprocessor
from ..pipeline.features import rows_frame

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


class Inference:
    """A fitted pipeline, ready to answer rows of feature values."""

    def __init__(
        self,
        pipeline: Pipeline,
        features: Sequence[Mapping[str, Any]],
        task: str,
        compile_features: bool = True,
    ) -> None:
        """Compile ``pipeline``'s preprocessing if possible (see the module docstring).

        Args:
            pipeline: The fitted pipeline, or a bare fitted estimator.
            features: The lineage record's ``data.features`` list (the order of a row).
            task: ``"classification"`` or ``"regression"``.
            compile_features: False keeps scikit-learn's preprocessing (``SERVICE_COMPILE=off``).
        """
        self.features = list(features)
        self.task = task
        steps: list[Any] = list(getattr(pipeline, "steps", []))
        self.estimator: Any = steps[-1][1] if len(steps) > 1 else pipeline
        self.preprocessor: Any = pipeline[:-1] if len(steps) > 1 else None
        self.compiled: CompiledFeatures | None = None
        self.refused: NotCompilable | None = None  # why compiling failed, when it did
        self.preprocessing = "none: the model is a bare estimator"
        if self.preprocessor is not None and not compile_features:
            self.preprocessing = "scikit-learn (compiling turned off)"
        elif self.preprocessor is not None:
            try:
                self.compiled = compile_preprocessor(pipeline, self.features)
                self.preprocessing = "compiled (numpy; checked equal to scikit-learn's)"
            except NotCompilable as why:
                self.refused = why
                self.preprocessing = f"scikit-learn (not compiled: {why})"

    def inputs(self, rows: Sequence[Sequence[Any]]) -> Any:  # noqa: ANN401 - array or DataFrame
        """The estimator's input for ``rows`` (one value per feature, None for missing)."""
        if self.compiled is not None:
            return self.compiled.transform(rows)
        frame = rows_frame(rows, self.features)
        return frame if self.preprocessor is None else self.preprocessor.transform(frame)

    def answers(self, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """One JSON-ready answer per row, matching :func:`.schema.prediction_model`.

        Classification: the label from ``predict`` and, when the estimator has
        ``predict_proba``, each class's probability keyed by the label as a string. Both come
        from one preprocessing of the rows, which equals scikit-learn's bit for bit. The model's
        own rounding depends on its input's memory layout: ``pipeline.predict_proba`` of a
        numeric-only DataFrame read from a file (column-major) differs in the last bit (2.2e-16
        at most on the sample) from the same call on a row-major copy, and so from these answers.
        """
        inputs = self.inputs(rows)
        if self.task != "classification":
            return [
                {"prediction": float(value)} for value in np.asarray(self.estimator.predict(inputs))
            ]
        labels = self.estimator.predict(inputs).tolist()
        if not hasattr(self.estimator, "predict_proba"):
            return [{"prediction": label, "probabilities": None} for label in labels]
        names = [str(c) for c in self.estimator.classes_.tolist()]
        probabilities = self.estimator.predict_proba(inputs).tolist()
        return [
            {"prediction": label, "probabilities": dict(zip(names, row, strict=True))}
            for label, row in zip(labels, probabilities, strict=True)
        ]
