"""User-facing errors: one line that names the problem and the fix."""

from __future__ import annotations


class StinError(Exception):
    """An input or environment problem the user can fix.

    The message is a single line: ``<problem>: <fix>``. Stage entry points and the
    CLI print it as ``error: <message>`` and exit with status 2, leaving no partial
    outputs behind.
    """

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; fix: {fix}")
