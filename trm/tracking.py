"""Optional experiment tracking: the rows of metrics.csv mirrored as TensorBoard scalars.

Off by default. `Tracking(kind="tensorboard")` makes rank 0 write every (step, split, metric,
value) row that the loop logs to metrics.csv as the scalar `<split>/<metric>` at that step (e.g.
`train/lm_loss`, `test/exact_accuracy`, `test_raw/exact_accuracy`), in event files under
`<run_dir>/tensorboard/` (or `Tracking.directory`). View them with `tensorboard --logdir runs/`;
W&B users can upload the same files with `wandb sync --sync-tensorboard DIR`.

Why TensorBoard and not W&B offline (the official code logs to W&B): the writer ships with torch
(`torch.utils.tensorboard`) and needs only the `tensorboard` package (pip extra `tracking`: 7
packages, 58 MB installed, measured with pip install --target) where wandb brings 33 packages and
100 MB and runs a background service process even offline; event files are plain local files that
need no account, login or service, and the tests read them back without network.
Tracking is not part of the recipe: it is passed beside the TrainConfig, never in it, so a
tracked run has the same config hash as an untracked one.

Resuming: metrics.csv drops the rows written after the checkpoint a run resumes from; the writer
likewise opens with `purge_step` = the first step it is asked to log, so TensorBoard hides the
events an interrupted attempt wrote from that step on.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from trm.errors import TrmError

KINDS = ("none", "tensorboard")


class TrackingUnavailable(TrmError):
    """Tracking was asked for but its optional package is not installed."""


@dataclass(frozen=True)
class Tracking:
    """Where the loop's metrics go besides metrics.csv (not part of the TrainConfig or its hash)."""

    kind: Literal["none", "tensorboard"] = "none"
    directory: Optional[str] = None
    """event-file directory; None: `<run_dir>/tensorboard`"""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"tracking kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "directory": self.directory}

    @classmethod
    def from_dict(cls, data: Optional[dict]) -> "Tracking":
        return cls(**data) if data else cls()


class Tracker:
    """The no-op tracker: what a run without tracking (and every rank but 0) gets."""

    def log(self, step: int, split: str, metrics: dict) -> None:
        """Record `metrics` (name -> number) of `split` ('train', 'test', 'test_raw') at optimizer `step`."""

    def close(self) -> None:
        """Flush and release the files."""


def check_available(tracking: Optional[Tracking]) -> None:
    """Raise TrackingUnavailable now, before any run starts, if `tracking` needs a package that is absent."""
    if tracking is not None and tracking.kind == "tensorboard":
        TensorBoardTracker(Path("."))  # imports the writer; opens nothing until the first log


class TensorBoardTracker(Tracker):
    """Scalars `<split>/<metric>` in TensorBoard event files; the writer opens at the first `log`."""

    def __init__(self, directory: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise TrackingUnavailable("tracking 'tensorboard' needs the tensorboard package "
                                      "(pip install 'trm-audit[tracking]' or pip install tensorboard)") from None
        self._writer_class = SummaryWriter
        self.directory = Path(directory)
        self._writer = None

    def log(self, step: int, split: str, metrics: dict) -> None:
        if self._writer is None:
            self._writer = self._writer_class(log_dir=str(self.directory), purge_step=step)
        for name in sorted(metrics):
            self._writer.add_scalar(f"{split}/{name}", float(metrics[name]), global_step=step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def open_tracker(tracking: Optional[Tracking], run_dir: Path, *, enabled: bool = True) -> Tracker:
    """The tracker for one run: TensorBoard under `tracking.directory` or `run_dir/tensorboard`, or a
    no-op one when tracking is None / 'none' or `enabled` is false (ranks other than 0). Raises
    TrackingUnavailable when the package is missing."""
    if tracking is None or tracking.kind == "none" or not enabled:
        return Tracker()
    return TensorBoardTracker(Path(tracking.directory) if tracking.directory else Path(run_dir) / "tensorboard")


def read_scalars(directory: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files under `directory`: tag -> [(step, value)] in step order, as
    TensorBoard shows them (purged steps removed). Values are float32, as TensorBoard stores them."""
    try:
        from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
    except ImportError:
        raise TrackingUnavailable("reading event files needs the tensorboard package") from None
    multiplexer = EventMultiplexer(size_guidance={"scalars": 0}).AddRunsFromDirectory(str(directory))
    multiplexer.Reload()
    scalars: dict[str, list[tuple[int, float]]] = {}
    for run, tags in multiplexer.Runs().items():
        for tag in tags.get("scalars", []):
            events = multiplexer.Scalars(run, tag)
            scalars.setdefault(tag, []).extend((event.step, event.value) for event in events)
    return {tag: sorted(values) for tag, values in scalars.items()}
