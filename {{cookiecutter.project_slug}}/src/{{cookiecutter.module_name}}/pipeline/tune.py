"""Hyperparameter tuning with Optuna: cross-validated on the training split, seeded, shared.

The search space of the configured estimator comes from ``tune.space`` in params.yaml. Each trial
builds the training pipeline (:func:`.train.build_pipeline`) with the trial's hyperparameters
over the params.yaml ones, and scores it by ``tune.cv_folds``-fold cross-validation on the
*training* split of :func:`..data.split` (the test set stays untouched, so the gates still judge
the tuned model on data the search never saw). After each fold the running mean is reported, and
Optuna's median pruner stops trials that are already worse than the median.

The study lives in an Optuna storage: a SQLite file in ``artifacts/`` by default, or an RDB URL
(``tune.storage``, or ``--storage``). Its name is derived from everything that defines the
search (data, split, model type, space, metric, folds, seed), so several workers started with
the same params and storage join one study and share its ``tune.trials`` budget, and a changed
search never resumes an old one. Workers differ only in their sampler seed (``--worker N``).

``--apply`` writes the best hyperparameters into ``model.params`` of params.yaml, editing the
YAML in place (ruamel.yaml keeps its comments and layout), and the study's summary next to it
(``tune-study.json``, :class:`StudySummary`: no storage URL, no trial log), to be committed with
it: the pull request's report shows the study while params.yaml still has its best values, and
calls it stale once they changed. ``tune.json`` and ``tune.md`` in ``artifacts/`` record every
run: trials, best value, the parameters that mattered.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..layout import STUDY_FILE, ArtifactLayout
from ..progress import Progress
from ..records import StudySummary, TrialRecord, TuneResult

if TYPE_CHECKING:
    from collections.abc import Callable

    import optuna
    import pandas as pd

    from ..config import Distribution, Params
    from ..data import Dataset

#: Trials sampled at random before TPE takes over, and before pruning starts.
STARTUP_TRIALS = 5
#: Times a worker tries to open a storage that another worker is creating.
STORAGE_ATTEMPTS = 5
#: What a worker sees when another one is creating the storage's tables at the same moment.
RACE = re.compile(r"UNIQUE constraint|already exists|duplicate key|database is locked", re.I)
DEFAULT_METRIC = {"classification": "accuracy", "regression": "r2"}


def write_study(summary: StudySummary, folder: Path) -> Path:
    """Write ``tune-study.json`` into ``folder`` (params.yaml's) atomically; return its path."""
    from ..artifacts import atomic_write_json

    return atomic_write_json(folder / STUDY_FILE, summary.to_json())


def read_study(folder: Path) -> StudySummary | None:
    """The committed study summary in ``folder`` (None: there is none).

    Raises:
        ArtifactError: the file is not a study summary (one line naming it and the first error).
    """
    path = folder / STUDY_FILE
    return StudySummary.read(path) if path.is_file() else None


def produced(study: StudySummary, model_type: str, model_params: dict[str, Any]) -> bool:
    """True when a model of ``model_type`` with ``model_params`` has the study's best."""
    if model_type != study.model_type:
        return False
    return all(
        key in model_params and _scalar(model_params[key]) == _scalar(value)
        for key, value in study.best_params.items()
    )


def metric_of(params: Params) -> str:
    """The scorer the search maximises: ``tune.metric``, else the task's default."""
    return params.tune.metric or DEFAULT_METRIC[params.task]


def space_of(params: Params) -> dict[str, Distribution]:
    """The search space of the configured model type; refuse a type without one."""
    space = params.tune.space.get(params.model.type)
    if not space:
        raise ConfigError(
            f"params.yaml: tune.space.{params.model.type}: no search space for the configured "
            f"model type (spaces: {', '.join(sorted(params.tune.space)) or 'none'})"
        )
    return space


def study_name(params: Params, data_sha256: str) -> str:
    """A name that changes whenever the search would mean something else."""
    from .lineage import params_sha256

    definition = {
        "data": data_sha256,
        "params": params_sha256(params),
        "tune": {
            "space": params.tune.model_dump(mode="json")["space"].get(params.model.type),
            "metric": metric_of(params),
            "cv_folds": params.tune.cv_folds,
        },
    }
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()
    return f"{params.model.type}-{digest[:12]}"


def default_storage(artifacts: Path) -> str:
    """The SQLite file in the artifacts directory."""
    return f"sqlite:///{ArtifactLayout(artifacts).tune_db.resolve()}"


def shown_storage(url: str) -> str:
    """The storage URL without its password (it is printed and recorded)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _first(exc: BaseException) -> str:
    """The first line of an exception's message (SQLAlchemy appends long explanations)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """Open (creating its tables if needed) the Optuna storage at ``url``.

    Workers started together race to create a new storage's tables; the loser's insert fails
    and it simply opens the storage the winner made. SQLite waits for a lock instead of failing.

    Raises:
        ConfigError: for a URL that cannot be parsed or opened (password hidden).
    """
    import optuna
    from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError

    options = {"connect_args": {"timeout": 60}} if url.startswith("sqlite:") else {}
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=options)
        except (IntegrityError, OperationalError) as exc:
            if not RACE.search(str(exc)):
                raise ConfigError(f"tuning storage {shown_storage(url)!r}: {_first(exc)}") from None
            time.sleep(0.2 * (attempt + 1))  # another worker is creating the same tables
        except (ValueError, ImportError, ArgumentError) as exc:
            raise ConfigError(f"tuning storage {shown_storage(url)!r}: {_first(exc)}") from None
    raise ConfigError(f"tuning storage {shown_storage(url)!r}: could not be created")


def suggest(trial: optuna.Trial, name: str, dist: Distribution) -> Any:  # noqa: ANN401 - a hyperparameter value
    """Draw one hyperparameter from its distribution."""
    # Distribution's validator guarantees choices (categorical) or low and high (int, float).
    if dist.type == "categorical":
        assert dist.choices is not None
        return trial.suggest_categorical(name, dist.choices)
    assert dist.low is not None
    assert dist.high is not None
    if dist.type == "int":
        step = int(dist.step or 1)
        return trial.suggest_int(name, int(dist.low), int(dist.high), step=step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


def _objective(
    params: Params, dataset: Dataset, x: pd.DataFrame, y: pd.Series
) -> Callable[[optuna.Trial], float]:
    """The cross-validated score of a trial's hyperparameters on the training split."""
    import numpy as np
    import optuna
    from sklearn.base import clone
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import KFold, StratifiedKFold

    from .train import build_pipeline

    space = space_of(params)
    scorer = get_scorer(metric_of(params))
    folds_class = StratifiedKFold if params.task == "classification" else KFold
    folds = list(
        folds_class(params.tune.cv_folds, shuffle=True, random_state=params.seed).split(x, y)
    )

    def objective(trial: optuna.Trial) -> float:
        chosen = {name: suggest(trial, name, dist) for name, dist in space.items()}
        model = params.model.model_copy(update={"params": {**params.model.params, **chosen}})
        pipeline = build_pipeline(params.model_copy(update={"model": model}), dataset)
        scores = []
        for step, (train_rows, valid_rows) in enumerate(folds):
            fitted = clone(pipeline).fit(x.iloc[train_rows], y.iloc[train_rows])
            scores.append(scorer(fitted, x.iloc[valid_rows], y.iloc[valid_rows]))
            trial.report(float(np.mean(scores)), step)
            if trial.should_prune():
                raise optuna.TrialPruned
        return float(np.mean(scores))

    return objective


def tune(
    params: Params,
    root: Path,
    artifacts: Path,
    *,
    storage: str | None = None,
    trials: int | None = None,
    worker: int = 0,
    progress: Progress = print,
) -> TuneResult:
    """Run (or join) the study until it holds ``trials`` finished trials or the timeout passes."""
    import optuna

    from ..data import load_dataset, split

    clock = time.perf_counter()
    space_of(params)
    dataset = load_dataset(params, root)
    x_train, _, y_train, _ = split(
        dataset, params.data.test_size, params.seed, stratify=params.task == "classification"
    )
    artifacts.mkdir(parents=True, exist_ok=True)
    url = storage or params.tune.storage or default_storage(artifacts)
    name = study_name(params, dataset.sha256)
    budget = trials or params.tune.trials
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=1)
        if params.tune.pruning
        else optuna.pruners.NopPruner()
    )
    # Workers of one study differ by their seed only: same seed, same draws, wasted trials.
    sampler = optuna.samplers.TPESampler(seed=params.seed + worker, n_startup_trials=STARTUP_TRIALS)
    study = optuna.create_study(
        study_name=name,
        storage=open_storage(url),
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done_before = len(study.get_trials(deepcopy=False, states=finished))
    progress(f"study {name} in {shown_storage(url)}: {done_before} of {budget} trials done")
    mine = 0
    log: list[TrialRecord] = []
    if done_before < budget:
        stop = optuna.study.MaxTrialsCallback(budget, states=finished)

        def count(_: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            nonlocal mine
            mine += 1
            value = "pruned" if trial.value is None else f"{trial.value:.4f}"
            progress(f"trial {trial.number}: {value} {trial.params}")
            pruned = trial.state == optuna.trial.TrialState.PRUNED
            step = trial.last_step
            last = (
                trial.intermediate_values.get(step) if pruned and step is not None else trial.value
            )
            state = "pruned" if pruned else "complete"
            log.append(
                TrialRecord(number=trial.number, state=state, value=last, params=trial.params)
            )

        study.optimize(
            _objective(params, dataset, x_train, y_train),
            n_trials=budget - done_before,
            timeout=params.tune.timeout,
            callbacks=[stop, count],
            gc_after_trial=False,
        )
    all_trials = study.get_trials(deepcopy=False)
    complete = [t for t in all_trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise ConfigError(
            f"study {name}: no trial completed (all pruned or failed): widen tune.space"
        )
    importances: dict[str, float] = {}
    if len(complete) >= 2 and len(study.best_params) > 1:
        try:
            importances = {
                k: float(v) for k, v in optuna.importance.get_param_importances(study).items()
            }
        except (RuntimeError, ValueError):  # e.g. a parameter that never varied
            importances = {}
    return TuneResult(
        study=name,
        storage=shown_storage(url),
        model_type=params.model.type,
        metric=metric_of(params),
        best_value=float(study.best_value),
        best_params=dict(study.best_params),
        trials=len(all_trials),
        complete=len(complete),
        pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in all_trials),
        worker_trials=mine,
        seconds=round(time.perf_counter() - clock, 2),
        importances=importances,
        applied=False,
        worker_log=log,
    )


def _scalar(value: Any) -> str:  # noqa: ANN401 - a hyperparameter value
    """A YAML scalar for ``value``: JSON's spelling, which YAML reads back as the same value."""
    if isinstance(value, float):
        value = float(f"{value:.6g}")  # readable; far below any search's resolution
    return json.dumps(value)


def edit_model_params(text: str, best: dict[str, Any]) -> str:
    """Return params.yaml ``text`` with ``best`` set in ``model.params``, every other byte kept.

    ruamel.yaml finds where each key is; the lines are edited in place (a value replaced, its
    comment kept; a new key added under the last one), so comments, wrapping and key order stay
    as the user wrote them. A ``params`` mapping written in flow style (``{...}``) or holding
    nested values is re-emitted by ruamel.yaml instead.
    """
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    document = YAML().load(text)
    model = document["model"]
    node = model.get("params")
    scalars = isinstance(node, CommentedMap) and node and not node.fa.flow_style()
    if scalars:
        scalars = all(not isinstance(v, (dict, list)) for v in node.values())
    if not scalars:
        round_trip = YAML()
        round_trip.width = 4096  # never re-wrap a line (wrapped flow mappings can break)
        if not isinstance(node, dict):
            model["params"] = node = CommentedMap()
        for key, value in best.items():
            node[key] = json.loads(_scalar(value))
        buffer = io.StringIO()
        round_trip.dump(document, buffer)
        return buffer.getvalue()
    lines = text.splitlines(keepends=True)
    keys = list(node)
    indent = node.lc.key(keys[0])[1]
    last = max(node.lc.key(k)[0] for k in keys)
    added = []
    for key, value in best.items():
        if key in node:
            line, column = node.lc.value(key)
            original = lines[line]
            rest = original[column:].rstrip("\r\n")
            comment = re.search(r"\s+#", rest)
            stop = column + (comment.start() if comment else len(rest))
            lines[line] = original[:column] + _scalar(value) + original[stop:]
        else:
            added.append(f"{' ' * indent}{key}: {_scalar(value)}\n")
    lines[last + 1 : last + 1] = added
    return "".join(lines)


def apply_best(params_file: Path, best: dict[str, Any]) -> Path:
    """Write ``best`` into ``model.params`` of the params file, keeping comments and layout.

    The edited text is validated (:func:`..config.parse_params`) before it replaces the file.

    Raises:
        ConfigError: if the result would not be valid params.
    """
    import yaml

    from ..artifacts import atomic_write_text
    from ..config import check_paths, parse_params

    text = edit_model_params(params_file.read_text(encoding="utf-8"), best)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # a bug here must never reach the file
        raise ConfigError(
            f"{params_file}: the edited params would not be valid YAML ({exc})"
        ) from None
    checked = parse_params(raw, str(params_file))
    check_paths(checked, params_file.parent, str(params_file))
    return atomic_write_text(params_file, text)


def study_lines(result: StudySummary) -> list[str]:
    """The study in markdown: trials, best value, each hyperparameter's best and importance."""
    lines = [
        f"Study `{_inline(result.study)}`: {result.trials} trials ({result.complete} complete, "
        f"{result.pruned} pruned); best cross-validated {_inline(result.metric)} on the training "
        f"split: **{result.best_value:.4f}**.",
        "",
        "| hyperparameter | best value | importance |",
        "| --- | --- | --- |",
    ]
    for key, value in result.best_params.items():
        importance = result.importances.get(key)
        shown = "" if importance is None else f"{importance:.2f}"
        lines.append(f"| `{_inline(key)}` | `{_inline(value)}` | {shown} |")
    return lines


def _inline(value: object) -> str:
    """``value`` as one line of markdown code: the summary is a committed file, i.e. data."""
    return " ".join(str(value).split()).replace("`", "'").replace("|", "\\|")


def render_markdown(result: TuneResult) -> str:
    """The study as a markdown section: the PR body of the tune workflow."""
    lines = [
        f"## Hyperparameter tuning: {result.model_type}",
        "",
        *study_lines(StudySummary.of(result)),
    ]
    lines += [
        "",
        "The test set was not used: the gates of this pull request judge the tuned model.",
        "",
    ]
    return "\n".join(lines)


def write_summary(result: TuneResult, artifacts: Path) -> None:
    """Write ``tune.json`` and ``tune.md`` atomically."""
    from ..artifacts import atomic_write_json, atomic_write_text

    layout = ArtifactLayout(artifacts)
    atomic_write_json(layout.tune, result.to_json())
    atomic_write_text(layout.tune_md, render_markdown(result))
