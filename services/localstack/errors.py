"""The one error type the stack raises: its message is shown to the user as is."""


class StackError(Exception):
    """A configuration or startup problem, with a message that says what to do."""
