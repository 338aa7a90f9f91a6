"""User-facing errors: one line that says what went wrong and what to do (CLI exit code 2)."""


class SrbenchError(Exception):
    """An error caused by the user's input or environment, reported as one line without a traceback."""


class AssetMissingError(SrbenchError):
    """A pinned file (weights, metric parameters) is not available offline."""


class ChecksumError(SrbenchError):
    """A file's sha256 does not match the pinned value."""
