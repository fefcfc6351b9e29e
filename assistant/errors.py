"""The exceptions the assistant raises on purpose.

Every failure a user can cause or fix (bad input, a missing index, a missing model package, a corrupt file)
is an `AssistantError` whose message is one line that says what happened and, where there is one, the fix.
The CLI and the chat page catch `AssistantError` in one place each and show the message; anything else is a
bug and keeps its traceback in the log.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: the message is shown to the user as it is."""

    exit_code = 1


class InputError(AssistantError):
    """The user's input cannot be used (an empty question, a bad option)."""

    exit_code = 2


class DocumentError(AssistantError):
    """One corpus document cannot be read; the message names the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexMissingError(AssistantError):
    """There is no built index where one was expected."""


class IndexCorruptError(AssistantError):
    """Index files exist but cannot be trusted (truncated, altered, unreadable)."""


class IndexMismatchError(AssistantError):
    """The index was built with another model, dimension or format than the configured one."""


class IndexWriteError(AssistantError):
    """A new index could not be written (a full disk, say); the previous one is still live."""


class CorpusMissingError(AssistantError):
    """The corpus folder does not exist: building from it would empty the index, so nothing is done."""


class ModelError(AssistantError):
    """The embedding model cannot be found or loaded."""


class BusyError(AssistantError):
    """Another process holds the build lock."""


class StateError(AssistantError):
    """The state store (conversations, feedback, unanswered questions) cannot do what was asked."""


class StateDatabaseError(StateError, ConnectionError):
    """The state database cannot be used: a bad `ASSISTANT_DATABASE_URL`, a server that cannot be reached or
    refuses us, a file that cannot be opened. The message names the host (or file), never the password.

    Also a `ConnectionError` (so an `OSError`): callers that treat a log as a convenience and catch `OSError`
    (an answer must not fail because its gap could not be logged) keep working when the database is down.
    """


class StateSchemaError(StateError):
    """The database's schema is newer than this version knows, or the database is not this store's."""


class ConversationNotFoundError(StateError):
    """No such conversation or turn for this caller (deleted, never existed, or someone else's)."""


class ConversationFullError(StateError):
    """The conversation holds as many turns as the store keeps in one; a new chat is needed."""

    exit_code = 2
