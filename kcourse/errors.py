"""The error hierarchy. Every error a user can cause is a KcourseError with one clear line."""


class KcourseError(Exception):
    """Base class: the message is one line, shown to the user as is."""


class KoFormatError(KcourseError):
    """A .ko file (or its compressed wrapper) is missing, truncated, corrupt or hostile."""
