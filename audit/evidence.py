"""Whether a run record is evidence for its claim today, and if not, why: the one rule.

The plan (`audit.plan.assess`: done / stale / retry), the runner (`run_one --rerun-stale`) and the
report (`audit.sources.collect_sources`: counted / stale / failed) all ask `standing`, so they
cannot disagree about a record. A record counts when it is readable and in its place, answers the
claim as the registry states it now (its profile still exists, it measured the claim's metric, its
config means the profile's config at that seed, it has the evaluation the claim's checkpoint rule
selects) and its run completed. The checks run in that order: a record that answers another
question is `stale` (retrained only on request) whether or not it completed, since retraining it
under the old setup would answer the old question again.

Two kinds of run are neither plainly counted nor plainly failed (docs/design.md §5.1):
* a run stopped on a non-finite loss (`diverged`): under the claim's `protocol.diverged`
  ('last_finite', the default) it counts with the evaluation its checkpoint rule selects among
  those made before the divergence, flagged `diverged_at`; under 'exclude' it is kept out with
  the reason. Either way it stays visible: the sources count it.
* a run whose data lacked part of the paper's training set (ConceptARC absent): it counts, but
  as a measurement of another setup: `not_comparable` says why, and its source is judged as a
  proxy. Retraining would not help (the data are missing), so it is not stale or failed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Optional

from audit.records import RecordError, RunRecord, read_record
from audit.registry import resolve_profile

Cause = Literal["counts", "damaged", "profile_removed", "metric_changed", "config_changed",
                "checkpoint_missing", "failed", "diverged"]
STALE_CAUSES = ("profile_removed", "metric_changed", "config_changed", "checkpoint_missing")
# Display names of the ARC subsets a build may lack (trm.data.arc_selection records them).
SUBSET_NAMES = {"concept": "ConceptARC"}


@dataclass(frozen=True)
class Standing:
    """A record's standing: whether it counts, the cause (see Cause) and a one-line reason.

    `evaluation` is the evaluation the claim's checkpoint rule selects, when the record has one
    (a stale run's is shown, never used); None for a damaged or failed record. `diverged_at`: the
    step whose loss was non-finite, for a run that diverged (counted or not). `not_comparable`: why
    a counted run measures another setup than the claim's (None when it does not). `wall_time_s`:
    the record's wall time, set by `standing_at` so that the plan's timing (audit.costs) need not
    read the record a second time.
    """

    counts: bool
    cause: Cause
    reason: str
    evaluation: Any = None  # audit.records.Evaluation
    diverged_at: Optional[int] = None
    not_comparable: Optional[str] = None
    wall_time_s: Optional[float] = None

    @property
    def status(self) -> str:
        """How the report lists a record: 'counted', 'stale', 'failed' (a diverged run kept out
        included) or 'damaged'."""
        if self.counts:
            return "counted"
        if self.cause == "diverged":
            return "failed"
        return "stale" if self.cause in STALE_CAUSES else self.cause

    @property
    def value(self) -> Optional[float]:
        """The selected evaluation in percent, when there is one."""
        return None if self.evaluation is None else self.evaluation.value


def checkpoint_rule(claim) -> str:
    """Which evaluation of a run counts for `claim`: 'final' or 'best' (its protocol's checkpoint)."""
    return claim.protocol.checkpoint


def scores_raw_beside_ema(record: RunRecord, claim) -> bool:
    """Whether the claim's evidence in `record` is the raw weights' scores beside an EMA copy: the
    claim's protocol evaluates `weights: raw` and the run trained with EMA on (so `final` / `best`
    are the EMA's, `raw_final` / `raw_best` the raw weights', written under train.eval_raw_weights)."""
    return claim.protocol.weights == "raw" and bool(record.config.get("train", {}).get("ema"))


def selected_evaluation(record: RunRecord, claim):
    """The evaluation of `record` that the claim's current checkpoint rule selects (None if absent).

    The rule is the claim's as the registry states it now, not the one recorded at training time
    (`record.selected`): a rule changed since the run applies to the run's stored evaluations. A
    `weights: raw` claim reads a run with EMA on through its raw scores (`raw_best` / `raw_final`).
    """
    best = checkpoint_rule(claim) == "best"
    if scores_raw_beside_ema(record, claim):
        return record.raw_best if best else record.raw_final
    return record.best if best else record.final


def same_config(record: RunRecord, config: Any) -> bool:
    """Whether the record was made with `config` (a TrainConfig), judged by meaning, not by hash.

    The record's resolved config is validated again: a field added to the trainer since the run, with
    a default that reproduces the old behaviour, leaves it current, while a changed value, a removed
    field or an invalid one makes it stale. (Comparing stored hashes would call every record stale
    whenever a config field is added.)
    """
    from trm.config import TrainConfig
    from trm.schema import ConfigError

    try:
        return TrainConfig.from_dict(record.config) == config
    except (ConfigError, TypeError):
        return False


def standing(record: RunRecord, claim) -> Standing:
    """The standing of a readable, correctly placed record of `claim` (audit.registry.Claim)."""
    chosen = selected_evaluation(record, claim)
    profile = resolve_profile(claim, record.profile)  # a declared profile or a budget cut of one
    if profile is None:
        return Standing(False, "profile_removed", "profile is no longer in the registry", chosen)
    if record.metric != claim.metric:
        return Standing(False, "metric_changed", f"measured {record.metric}, the claim now uses {claim.metric}",
                        chosen)
    if not same_config(record, profile.config_for(record.seed)):
        return Standing(False, "config_changed", f"config changed since the run (recorded {record.config_hash}, "
                        f"profile is now {profile.config_for(record.seed).config_hash()})", chosen)
    if record.status != "completed" and record.diverged_at is not None:
        return _diverged(record, claim, chosen)
    if record.status != "completed":
        return Standing(False, "failed", record.error or "the run failed", None)
    if chosen is None and scores_raw_beside_ema(record, claim):
        return Standing(False, "checkpoint_missing", f"the claim scores the raw weights' {checkpoint_rule(claim)} "
                        "evaluation, which this EMA run did not record (trained without train.eval_raw_weights)")
    if chosen is None:
        return Standing(False, "checkpoint_missing", f"the claim now selects the {checkpoint_rule(claim)} "
                        "evaluation, which the record does not have")
    return Standing(True, "counts", "", chosen, not_comparable=data_gap(record))


def _diverged(record: RunRecord, claim, chosen) -> Standing:
    """A run stopped on a non-finite loss, under the claim's `protocol.diverged`; the reason starts
    with the trainer's own ("non-finite loss nan at step 7")."""
    step = record.diverged_at
    if claim.protocol.diverged == "exclude":
        return Standing(False, "diverged", f"{record.error}: excluded by the claim's protocol (diverged: exclude)",
                        chosen, diverged_at=step)
    if chosen is None:
        return Standing(False, "diverged", f"{record.error}, before its first evaluation: nothing finite to count",
                        None, diverged_at=step)
    which = "last" if checkpoint_rule(claim) == "final" else "best"
    return Standing(True, "counts", f"{record.error}: counted with its {which} finite evaluation (step {chosen.step})",
                    chosen, diverged_at=step, not_comparable=data_gap(record))


def data_gap(record: RunRecord) -> Optional[str]:
    """Why the record's data are not the paper's, from what the build found missing; None if nothing was.

    Reads the record's `data.arc_absent` ({"subsets": {name: groups}, "train_groups": n}, written
    when an ARC source lacked a subset of the paper's build, e.g. ConceptARC), e.g.
    "ConceptARC missing: 160 of 960 training groups absent".
    """
    absent = record.data.get("arc_absent")  # its shape is checked when the record is read
    if absent is None:
        return None
    subsets = absent["subsets"]
    names = " and ".join(SUBSET_NAMES.get(name, name) for name in subsets)
    return f"{names} missing: {sum(subsets.values())} of {absent['train_groups']} training groups absent"


def standing_at(path: Path, claim, profile: str, seed: int) -> Optional[Standing]:
    """The standing of the record at `path` for (claim, profile, seed); None when there is no record.
    A claim with `runs_of` is judged (by its own protocol) on the named claim's record, which carries that id.

    An unreadable or inconsistent record, or one that names another run than its place, is `damaged`.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        record = read_record(path)
    except RecordError as err:
        return Standing(False, "damaged", f"unreadable record ({err})")
    if (record.claim_id, record.profile, record.seed) != (claim.runs_of or claim.id, profile, seed):
        return Standing(False, "damaged", f"the record there is of {record.claim_id} / {record.profile} / "
                                          f"seed {record.seed}")
    return replace(standing(record, claim), wall_time_s=record.wall_time_s)
