"""Errors the program reports to its user as one-line messages (never as tracebacks).

Each names what is wrong, where, and what is allowed. They live in their own module so that
every layer (configuration, model, interventions, I/O) can raise them without importing the others.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a refused request: reported as ``error: <message>`` with exit status 2."""


class ConfigError(UserError, ValueError):
    """A configuration value is invalid; the message names key, value and what is allowed."""


class InterventionTargetError(UserError, RuntimeError):
    """The target of an intervention does not exist on its start day."""


class FolderError(UserError, OSError):
    """An output folder cannot be used: it holds another run's files, is locked or not writable."""


class ReportError(UserError, ValueError):
    """The folder holds no runs, or the runs cannot be compared."""
