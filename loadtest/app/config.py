"""`AppConfig`: the settings of the demo application, one field per `loadtest app` option."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AppConfig"]


class AppConfig(BaseModel):
    """Where the demo shop listens and how it writes its JSON log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", min_length=1, description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port to listen on (0: any free one).")
    log_file: Path = Field(
        Path("logs/app.log"),
        description="JSON log file, one object per line (its directory is created).",
    )
    service: str = Field(
        "shop", min_length=1, description="Service name written in each line as `service`."
    )
    rotate_bytes: int = Field(
        10 * 1024 * 1024,
        ge=0,
        description="Rotate the log file (rename + create) past this size in bytes; 0: never.",
    )
    rotate_keep: int = Field(
        5,
        ge=1,
        description="Rotated files kept (app.log.1 … app.log.N); older ones are deleted.",
    )
    seed: int | None = Field(
        None, description="Random seed of the fault draws, for reproducible runs (none: random)."
    )
