"""User-facing errors: the CLI prints their message as one line and exits non-zero."""

__all__ = ["AssayError", "InputError", "StoreMissing"]


class AssayError(Exception):
    """An error whose message is meant for the user (no traceback)."""


class InputError(AssayError, ValueError):
    """Bad input: a malformed file, an unknown name, an invalid option."""


class StoreMissing(InputError):
    """No store file where one was expected (the web app answers 404)."""
