"""Exception types for problems the user can fix (bad configuration, bad data).

The CLI turns any :class:`ProjectError` into one ``error: <message>`` line on stderr and exit
code 2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import re


class ProjectError(Exception):
    """Base class of every error caused by the project's inputs rather than by a bug."""


class ConfigError(ProjectError):
    """``params.yaml`` is missing, malformed or holds an invalid value."""


class DataError(ProjectError):
    """The dataset is missing, unreadable or does not match the configured schema."""


class ArtifactError(ProjectError):
    """An artifact another stage needs is missing or unreadable (run the earlier stage first)."""


class PathError(ProjectError):
    """A path from the params or the command line leads outside the project (or is malformed)."""


class FormatError(ProjectError):
    """A value from outside (a tag, an input, a name) does not have the format it must have."""


class ReleaseError(ProjectError):
    """A release command refused to act; the message says why and what to do."""


class CommentError(ProjectError):
    """The artifact cannot be posted (e.g. its PR number does not belong to the run)."""


class Interrupted(ProjectError):
    """The command was stopped by a signal; what it had started is cleaned up."""


class TrackingError(Exception):
    """The tracking store could not be reached or refused a write (never fails training).

    Not a ProjectError: tracking is best effort, its callers report it as a warning.
    """


def ensure_format(value: str, pattern: re.Pattern[str], what: str) -> str:
    """Return ``value`` if all of it matches ``pattern``; refuse it naming ``what`` otherwise."""
    if not pattern.fullmatch(value):
        raise FormatError(f"{what} {value!r} is not valid (expected {pattern.pattern})")
    return value
