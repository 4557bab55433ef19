"""The harness's own exceptions. Library code raises them; the CLI turns them into exit codes.

Exit codes (docs/design.md §6.3): 0 success, 1 a check failed, 2 bad input.
"""


class AuditError(Exception):
    """Base class: a problem the user can act on, with a one-line message."""

    exit_code = 2


class InputError(AuditError):
    """Bad input (a claims file, a results file, a record, an argument). Exit code 2.

    The message names the file, the item (claim id, task, row) and the field.
    """


class CheckFailed(AuditError):
    """A check ran and failed (e.g. `report --check` found a stale report). Exit code 1."""

    exit_code = 1


class RecordExistsError(AuditError):
    """A run record is already there and must not be overwritten."""
