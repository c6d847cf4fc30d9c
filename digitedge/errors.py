"""The one exception type for mistakes a user can cause (bad file, bad option).

The CLI prints its message on one line and exits non-zero without a traceback;
any other exception is a bug and is allowed to raise.
"""


class DigitedgeError(Exception):
    """A user-caused error; its message names the file or option and what is wrong."""
