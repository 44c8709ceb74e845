"""Write docs/configuration.md from the config models, so the reference cannot drift.

python scripts/config_reference.py          # rewrite the file
python scripts/config_reference.py --check  # exit 1 if it is out of date (CI runs this via a test)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from loadtest.app.config import AppConfig
from loadtest.demo.config import DemoConfig
from loadtest.harness.config import RunConfig
from pipelines.config import STAGE_TYPES
from shipper.config import ENV_PREFIX, ShipperConfig
from shipper.indexer.config import ENV_PREFIX as INDEXER_ENV_PREFIX
from shipper.indexer.config import IndexerConfig
from shipper.stack import StackSettings

OUT = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(see below)"
    text = str(value) if not isinstance(value, str) else value
    if isinstance(value, Path) and value.is_absolute() and str(value).startswith(str(Path.home())):
        text = "~/" + str(value.relative_to(Path.home()))
    return f"`{text}`" if text else '`""`'


def _rows(model: type[BaseModel], prefix: str, env_prefix: str | None) -> list[str]:
    rows: list[str] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested.append((key, annotation))
            continue
        env = (
            f"`{env_prefix}{key.replace('.', '_').upper()}`"
            if env_prefix and not key.startswith("pipeline")
            else "-"
        )
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | {_default(field)} | {env} | {description} |")
    for key, sub in nested:
        rows.extend(_rows(sub, f"{key}.", env_prefix))
    return rows


_HEADER = "| key | default | env var | meaning |\n| --- | --- | --- | --- |"


def render() -> str:
    parts = [
        "# Configuration reference",
        "",
        "Generated from the config models by `python scripts/config_reference.py`; do not edit by hand.",
        "",
        "## `shipper run`",
        "",
        "YAML (`--config shipper.yml`, `${VAR}` and `${VAR:-default}` interpolated), overridden by",
        "`SHIPPER_*` environment variables, overridden by flags. Lists in env vars are comma-separated",
        "or JSON. `shipper check-config` prints the effective configuration with secrets masked, or",
        "every problem of it at once, one line each, naming the key (and the key meant, if misspelt).",
        "",
        _HEADER,
        *_rows(ShipperConfig, "", ENV_PREFIX),
        "",
        "## Pipeline stages (`pipeline:` in the YAML)",
        "",
        "Without `pipeline:` the default chain runs: parse, timestamp, redact, ecs, correlate, derive,",
        "route. A list given is taken as written (parse is added in front when missing, the default",
        "route when there is none).",
    ]
    for stage in STAGE_TYPES:
        stage_type = stage.model_fields["type"].default
        doc = (stage.__doc__ or "").strip().splitlines()[0]
        parts += ["", f"### `type: {stage_type}`", "", doc, "", _HEADER]
        parts += [row for row in _rows(stage, "", None) if not row.startswith("| `type`")]
    parts += [
        "",
        "## `shipper index`, `shipper setup`, `shipper retention`, `shipper search`",
        "",
        "The same loading as `shipper run`, with `INDEXER_*` environment variables; each command's",
        "`--help` names the settings it reads.",
        "",
        _HEADER,
        *_rows(IndexerConfig, "", INDEXER_ENV_PREFIX),
        "",
        "## `shipper stack`",
        "",
        "Flags `--kebab-case` of each key; env vars `LOGFERRY_STACK_<KEY>`.",
        "",
        _HEADER,
        *_rows(StackSettings, "", "LOGFERRY_STACK_"),
        "",
        "## `loadtest app`",
        "",
        "Flags `--kebab-case` of each key; env vars `LOADTEST_APP_<KEY>`.",
        "",
        _HEADER,
        *_rows(AppConfig, "", "LOADTEST_APP_"),
        "",
        "## `loadtest run`",
        "",
        "Flags `--kebab-case` of each key (`--duration` takes 90, 90s or 2m; `--expect-firing` and "
        "`--expect-quiet` repeat); env vars `LOADTEST_RUN_<KEY>` (lists comma-separated or JSON).",
        "",
        _HEADER,
        *_rows(RunConfig, "", "LOADTEST_RUN_"),
        "",
        "## `loadtest demo`",
        "",
        "Flags `--kebab-case` of each key; env vars `LOADTEST_DEMO_<KEY>`.",
        "",
        _HEADER,
        *_rows(DemoConfig, "", "LOADTEST_DEMO_"),
        "",
    ]
    return "\n".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python scripts/config_reference.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
