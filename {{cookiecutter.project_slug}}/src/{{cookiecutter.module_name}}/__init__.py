"""Train, check, report and serve a tabular machine learning model."""

from __future__ import annotations

from importlib.metadata import (
    PackageNotFoundError,
    distribution,
    entry_points,
    packages_distributions,
)


def distribution_name() -> str:
    """Return the name of the installed distribution (the project slug) that provides us.

    Usually the distribution is named like the package (metadata lookups treat ``-`` and ``_``
    alike). Otherwise it is the distribution that declares a console script in this package
    (``[project.scripts]``), or, failing that, one that lists the package among its files. The
    import name is the fallback when the package is not installed.
    """
    try:
        return distribution(__name__).metadata["Name"]
    except PackageNotFoundError:
        pass
    for entry_point in entry_points(group="console_scripts"):
        if entry_point.value.split(".")[0].split(":")[0] == __name__ and entry_point.dist:
            return entry_point.dist.metadata["Name"]
    names = packages_distributions().get(__name__, [])
    return names[0] if names else __name__


def _version() -> str:
    try:
        return distribution(distribution_name()).version
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0+unknown"


__version__ = _version()

__all__ = ["__version__", "distribution_name"]
