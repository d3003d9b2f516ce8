"""Issue 5's row: 1,000 contacts through a published link-and-email workflow."""

from pathlib import Path

from bench.report import Row, unavailable

ROW_NAME = "workflow: 1,000 contacts -> link + email"
TARGET = "< 60 s"


def workflow_row(ctx, *, sink, env: dict, run_dir: Path) -> list[Row]:
    try:
        from workflows.models import Workflow  # noqa: F401
    except ImportError as exc:
        return [
            unavailable(ROW_NAME, 5, f"workflows app has no Workflow model ({exc})", target=TARGET)
        ]
    return [unavailable(ROW_NAME, 5, "row not written yet", target=TARGET)]
