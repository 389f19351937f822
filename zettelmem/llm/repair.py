"""The single repair turn sent after a malformed or schema-violating reply."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from zettelmem.llm.protocol import Message

__all__ = ["describe_error", "repair_message"]

_MAX_ERROR_CHARS = 1500
_MAX_REPLY_CHARS = 6000


def describe_error(exc: BaseException) -> str:
    """A compact, model-readable description of a parsing or validation error."""
    if isinstance(exc, ValidationError):
        lines = [
            f"{'.'.join(str(part) for part in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        return f"{exc.error_count()} validation error(s) for {exc.title}:\n" + "\n".join(lines)
    text = "\n".join(line for line in str(exc).splitlines() if not line.startswith("For troubleshooting")).strip()
    return f"{type(exc).__name__}: {text}"


def repair_message(error: str, previous: str, schema: type[BaseModel]) -> Message:
    """The user message of the one repair attempt.

    The previous reply goes back quoted as data (``<`` escaped so it cannot close
    the block), with the validation error, so the model can correct itself.
    """
    quoted = previous[:_MAX_REPLY_CHARS].replace("<", "\\u003c")
    return (
        "user",
        "Your previous reply could not be used because it does not match the required "
        f"schema {schema.__name__}.\nError:\n{error[:_MAX_ERROR_CHARS]}\n"
        'Your previous reply, quoted as data:\n<data name="previous_reply">\n'
        f"{quoted}\n</data>\n"
        f"Answer again with one complete {schema.__name__} that matches the schema exactly.",
    )
