"""Errors of the machine, not of CORAL's code or the user's config: one definition.

A full disk or quota, a read-only or failing file system, a permission the process lacks. The
CLI prints such an error in one line naming the file (never a traceback), and the planner does
not count a step that failed with one as a failed attempt of the step (it is an interruption:
fix the machine and resume).
"""

from __future__ import annotations

import errno
import os
import re

MACHINE_ERRNOS: frozenset[int] = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
)

# The same errors as they appear in a failed step's logged error text: Python's
# ``[Errno N] <strerror>``, or SQLite's own wording for a full disk.
MACHINE_ERROR_TEXT = re.compile(
    "|".join(
        [rf"\[Errno ({'|'.join(str(n) for n in sorted(MACHINE_ERRNOS))})\]"]
        + [re.escape(os.strerror(n)) for n in sorted(MACHINE_ERRNOS)]
        + [re.escape("database or disk is full")]
    )
)


def is_machine_error(err: BaseException) -> bool:
    """Whether ``err`` is an ``OSError`` of the machine (``MACHINE_ERRNOS``)."""
    return isinstance(err, OSError) and err.errno in MACHINE_ERRNOS
