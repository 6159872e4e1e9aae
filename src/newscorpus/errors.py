"""Small named exceptions; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class NewscorpusError(Exception):
    """Base class: a problem the user can fix, reported as one line."""

    exit_code = 1


class ConfigError(NewscorpusError):
    """corpus.toml, a flag or the corpus folder is wrong (exit 2)."""

    exit_code = 2


class UsageError(NewscorpusError):
    """A command was called in a way that cannot work (exit 2)."""

    exit_code = 2


class DataError(NewscorpusError):
    """A corpus file or an input file holds bad data (exit 1)."""

    exit_code = 1


class FetchError(NewscorpusError):
    """A URL could not be fetched or was refused."""

    exit_code = 1


class StudioError(NewscorpusError):
    """Label Studio could not be started, reached or used."""

    exit_code = 1


class ReleaseError(NewscorpusError):
    """A release cannot be built or published."""

    exit_code = 1


class Interrupted(NewscorpusError):
    """A run stopped by a signal; what it wrote is kept (exit 128 + the signal's number)."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
