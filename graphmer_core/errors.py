"""Errors meant for a person: the CLI prints their message as one line, without a traceback."""


class GraphmerError(Exception):
    """A problem the user can act on; its message names the problem and what to do."""
