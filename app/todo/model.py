"""A todo item and the one rule its text follows, shared by the HTML pages and the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_TEXT_LENGTH = 500


class InvalidTextError(ValueError):
    """Todo text the app refuses; the message is shown to the person who sent it."""


def clean_text(raw: object) -> str:
    """The text to store: a string, stripped, not empty and at most 500 characters."""
    if not isinstance(raw, str):
        raise InvalidTextError("The text must be a string.")
    text = raw.strip()
    if not text:
        raise InvalidTextError("The text must not be empty.")
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidTextError(f"The text must be at most {MAX_TEXT_LENGTH} characters long.")
    return text


@dataclass(frozen=True)
class Todo:
    """A stored todo, as the pages and the API show it."""

    id: str
    text: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Todo:
        """Build from a MongoDB document ``{_id, text, created_at, updated_at}``."""
        created_at = _as_utc(document.get("created_at"))
        return cls(
            id=str(document["_id"]),
            text=str(document.get("text", "")),
            created_at=created_at,
            updated_at=_as_utc(document.get("updated_at", created_at)),
        )

    def to_json(self) -> dict[str, str]:
        """The API's representation, with ISO 8601 timestamps in UTC."""
        return {
            "id": self.id,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _as_utc(value: object) -> datetime:
    """A timezone-aware UTC time; BSON dates come back naive unless the client is tz_aware."""
    if not isinstance(value, datetime):
        return datetime.fromtimestamp(0, UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
