"""The one exception type that means "the user's input is wrong; here is the fix"."""


class UserError(Exception):
    """Bad input detected before (or instead of) the expensive part.

    The scripts catch it, log its message without a stack trace and exit with status 2.
    The message names the problem and the fix.
    """
