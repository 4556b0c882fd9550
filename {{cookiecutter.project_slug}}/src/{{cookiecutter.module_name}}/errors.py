"""Exception types for problems the user can fix (bad configuration, bad data).

The CLI turns any :class:`ProjectError` into one ``error: <message>`` line on stderr and exit
code 2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class ProjectError(Exception):
    """Base class of every error caused by the project's inputs rather than by a bug."""


class ConfigError(ProjectError):
    """``params.yaml`` is missing, malformed or holds an invalid value."""


class DataError(ProjectError):
    """The dataset is missing, unreadable or does not match the configured schema."""


class ArtifactError(ProjectError):
    """An artifact another stage needs is missing or unreadable (run the earlier stage first)."""
