"""The error every data loader raises: its message says what was wrong and what to do."""


class DataError(ValueError):
    """Data could not be loaded or is unusable (missing, corrupt, empty, too large)."""
