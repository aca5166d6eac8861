"""The retraining campaign: poisoning that creeps in month by month, and the safe-update gate.

A bank retrains its approval model every month on its own log of decided
applications. Each month a batch of new applications arrives; the deployed model
decides them, and each enters the training log with **the model's decision as its
label** (approve = 1, deny = 0). The true outcome of an approved loan arrives
``outcome_lag`` months later and replaces its label (a loan that went bad becomes
0); by default it never arrives (``outcome_lag=None``: the log keeps the decisions,
as when outcomes are not fed back to the model), and the outcome of a denied
application never arrives at all (nobody learns whether a denied applicant would
have repaid).

The attacker -- a fraud ring -- owns a *target*: a high-value application the clean
model denies. Every month it submits up to ``attack_rate`` x the month's batch of
applications of its own, placed just inside **today's** approval region on the way
from the approved applications towards the target; today's model approves them, so
they enter the log labelled "approved", the next model's boundary moves a little
towards them, and next month they go a little further: the "boiling frog" of
Rubinstein et al. (ANTIDOTE, IMC 2009), against online retraining as in Kloft &
Laskov (AISTATS 2010; JMLR 2012) and the accumulative poisoning of Pang et al.
(ICLR 2021). The campaign succeeds in the first month the deployed model approves
the target.

The defenses a bank can deploy: a per-month ``defense`` (any registered one) that
sanitizes the log before retraining, and an update **gate** (``GATES``) that checks
each retrained model (the challenger) against the running one (the champion)
before it is deployed: accuracy on a trusted, fixed holdout must not drop by more
than ``delta``; decisions on a fixed reference set must not move by more than
``tau``; or the challenger must do at least as well as the champion on the trusted
holdout. A rejected update keeps the champion running (its log still grows).

Every month records the held-out accuracy and the approval rate of the deployed
model, whether it approves the target, the expected loss in dollars on the bank's
held-out book (the story's loss model: an approved target is lost in full, an
approved application that would have gone bad loses ``loss_given_default`` of its
amount; the fraud ring's own small applications are not counted), how far the
boundary has moved (the share of reference decisions that differ from month 0),
and the gate's verdict with its reason. :func:`run_campaign` also runs a one-shot
baseline: the campaign's whole poison, submitted in month 1.

Threat model: the attacker can submit applications (features it chooses, within
the data's range) and learns each month whether they were approved -- it probes
today's model, nothing more; it cannot touch labels, the trusted holdout or the
reference set. The defender holds the trusted holdout (true outcomes of a
hand-checked sample) and sees the whole log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core._validation import check_choice, shown
from core.datasets import DATASETS, LOAN_VIEW, make_loan_frame
from core.defenses import DEFENSES
from core.experiment import derive_seeds
from core.models import (
    C_PARAM,
    DEGREE_PARAM,
    GAMMA_PARAM,
    KERNEL_PARAM,
    MODELS,
    decision_values,
    fit_clone,
    make_model,
)
from core.params import Choice, Declared, Float, Int, Registry, carry_params
from core.views import View, make_view

__all__ = ["CampaignConfig", "CampaignResult", "Month", "Gate", "GATES", "KNOBS",
           "run_campaign", "compare_campaigns", "CAMPAIGN_DATASETS", "CAMPAIGN_SCENARIOS"]

#: where on the approved stretch the attacker aims (1 = its far end, the boundary)
PLACE = 1.0
#: datasets a campaign can stream from: generated ones (a fresh batch from the generator)
CAMPAIGN_DATASETS = ("loan", "blobs", "moons", "circles", "linear")


# --- the update gates ---------------------------------------------------------------------

@dataclass(frozen=True)
class GateInput:
    """What a gate sees: the three models' scores on the trusted holdout and the reference set.

    ``*_accuracy``: accuracy on the trusted holdout; ``*_decisions``: approve (True) /
    deny on the reference set. ``first`` is the model deployed in month 0.
    """

    challenger_accuracy: float
    champion_accuracy: float
    first_accuracy: float
    challenger_decisions: np.ndarray
    champion_decisions: np.ndarray
    first_decisions: np.ndarray


class Gate(Declared):
    """Base class: ``decide(inputs) -> (deploy, reason)``; subclasses declare ``params``."""

    name: ClassVar[str]
    summary: ClassVar[str]

    def decide(self, g: GateInput) -> tuple[bool, str]:
        raise NotImplementedError


#: every update gate, in registration order
GATES: Registry = Registry("gate", Gate)

_AGAINST = Choice("against", "first", ("first", "deployed"),
                  "compare with the month-0 model (a fixed anchor) or the running one")


@GATES.register
class NoGate(Gate):
    """Deploy every retrained model (what the campaign exploits)."""

    name = "none"
    summary = "deploy every retrained model"

    def decide(self, g: GateInput) -> tuple[bool, str]:
        return True, "no gate"


@GATES.register
class AccuracyGate(Gate):
    """Reject a retrained model whose accuracy on the trusted holdout drops by more than ``delta``.

    The holdout is a fixed, hand-checked sample with true outcomes, which the attacker
    cannot touch. Compared with the month-0 model (``against="first"``) the drops
    cannot add up month after month, as they can against the running model (the
    boiling frog: each step is small).
    """

    name = "accuracy"
    summary = "trusted-holdout accuracy must not drop by more than delta"
    params = (Float("delta", 0.01, 0.0, 0.5, "largest accuracy drop allowed", step=0.005),
              _AGAINST)

    def decide(self, g: GateInput) -> tuple[bool, str]:
        ref = g.first_accuracy if self.against == "first" else g.champion_accuracy
        drop = ref - g.challenger_accuracy
        if drop > self.delta + 1e-12:
            return False, (f"holdout accuracy {g.challenger_accuracy:.3f} is {drop:.3f} below "
                           f"the {self.against} model's {ref:.3f} (delta {self.delta:g})")
        return True, f"holdout accuracy {g.challenger_accuracy:.3f} (drop {drop:+.3f})"


@GATES.register
class ShiftGate(Gate):
    """Reject a retrained model whose decisions on a fixed reference set move by more than ``tau``.

    ``measure="changed"``: the share of reference applications whose decision differs;
    ``"rate"``: the change of the approval rate. The reference set needs no labels:
    it catches a boundary that moves, whatever the holdout says.
    """

    name = "shift"
    summary = "decisions on a fixed reference set must not move by more than tau"
    params = (Float("tau", 0.03, 0.0, 1.0, "largest share of changed decisions (or rate change)",
                    step=0.01),
              Choice("measure", "changed", ("changed", "rate"),
                     "changed decisions, or the approval rate's change"), _AGAINST)

    def decide(self, g: GateInput) -> tuple[bool, str]:
        ref = g.first_decisions if self.against == "first" else g.champion_decisions
        if self.measure == "changed":
            moved = float(np.mean(g.challenger_decisions != ref))
            what = "of the reference decisions changed"
        else:
            moved = abs(float(g.challenger_decisions.mean()) - float(ref.mean()))
            what = "approval-rate change on the reference set"
        if moved > self.tau + 1e-12:
            return False, f"{moved:.1%} {what} against the {self.against} model (tau {self.tau:g})"
        return True, f"{moved:.1%} {what}"


@GATES.register
class ChampionChallenger(Gate):
    """Deploy the challenger only if it does at least as well as the champion on the holdout.

    The classic champion/challenger rule of model risk management: the retrained
    model must not lose to the running one on the trusted holdout (by more than
    ``margin``).
    """

    name = "champion_challenger"
    summary = "the retrained model must match the running one on the trusted holdout"
    params = (Float("margin", 0.01, 0.0, 0.2, "how much worse the challenger may be",
                    step=0.005),)

    def decide(self, g: GateInput) -> tuple[bool, str]:
        gap = g.champion_accuracy - g.challenger_accuracy
        if gap > self.margin + 1e-12:
            return False, (f"challenger {g.challenger_accuracy:.3f} loses to the champion "
                           f"{g.champion_accuracy:.3f} on the holdout")
        return True, (f"challenger {g.challenger_accuracy:.3f} vs champion "
                      f"{g.champion_accuracy:.3f}")


# --- the campaign's knobs, declared like every algorithm's ------------------------------------

class _Knobs(Declared):
    name = "campaign"
    params = (
        Int("months", 12, 1, 36, "months of retraining"),
        Int("n_history", 300, 50, 5000, "clean applications the month-0 model is trained on"),
        Int("batch", 100, 10, 2000, "new applications each month"),
        Float("attack_rate", 0.1, 0.0, 0.5, "the attacker's applications per month, as a share "
              "of the month's batch", step=0.01),
        Float("spread", 0.02, 0.0, 1.0, "spread of the attacker's applications, in feature SDs",
              step=0.01),
        Float("target_depth", 0.15, 0.0, 1.0, "how clearly the clean model denies the target "
              "(quantile of the denied applications' distance from the boundary)", step=0.05),
        Int("window", 0, 0, 36, "months of log the model retrains on (0 = all of it)"),
        Int("outcome_lag", None, 1, 36, "months until an approved loan's true outcome replaces "
            "its label (none = never)", nullable=True),
        Int("n_holdout", 200, 20, 5000, "the trusted holdout's size (true outcomes)"),
        Int("n_reference", 300, 20, 5000, "the fixed reference set's size"),
        Int("n_book", 500, 50, 20000, "held-out applications accuracy and loss are measured on"),
        Float("loss_given_default", 0.45, 0.0, 1.0, "share of an approved bad loan lost",
              step=0.05),
        Int("grid_resolution", 40, 0, 200, "decision grid per month (0 = none)"),
    )


#: the campaign's own parameters (what ``CampaignConfig`` holds besides the model and the
#: defense and gate with their parameters)
KNOBS = _Knobs.params


@dataclass(frozen=True)
class CampaignConfig:
    """Everything that determines a campaign; same config, same result, bit for bit.

    The knobs (``months``, ``batch``, ...) are declared in :data:`KNOBS`; the
    defense and the gate take their declared parameters in ``defense_params`` /
    ``gate_params``. Validated on construction (``ValueError`` naming the field).
    """

    dataset: str = "loan"
    noise: float | None = None
    seed: int = 0
    defense: str = "none"
    defense_params: Mapping[str, Any] = field(default_factory=dict)
    gate: str = "none"
    gate_params: Mapping[str, Any] = field(default_factory=dict)
    model: str = "svm"
    kernel: str = "linear"
    C: float = 1.0
    gamma: float | str = "scale"
    degree: int = 3
    knobs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = object.__setattr__
        check_choice("dataset", self.dataset, CAMPAIGN_DATASETS)
        spec = DATASETS[self.dataset]
        if self.noise is None:
            s(self, "noise", spec.default_noise)
        Float("noise", 0.0, 0.0, spec.max_noise, "").check(self.noise)
        s(self, "seed", Int("seed", 0, 0, 2**32 - 1, "").check(self.seed))
        for kind, registry in (("defense", DEFENSES), ("gate", GATES)):
            cls = registry.get_class(getattr(self, kind))
            values = getattr(self, f"{kind}_params")
            if not isinstance(values, Mapping):
                raise ValueError(f"{kind}_params={shown(values)} is not a mapping")
            s(self, f"{kind}_params", cls.check_params(values))
        check_choice("model", self.model, MODELS)
        s(self, "kernel", KERNEL_PARAM.check(self.kernel))
        s(self, "C", C_PARAM.check(self.C))
        s(self, "gamma", GAMMA_PARAM.check(self.gamma))
        s(self, "degree", DEGREE_PARAM.check(self.degree))
        if not isinstance(self.knobs, Mapping):
            raise ValueError(f"knobs={shown(self.knobs)} is not a mapping")
        s(self, "knobs", _Knobs.check_params(self.knobs))

    def __getattr__(self, name: str) -> Any:  # the knobs read as attributes: config.months
        knobs = self.__dict__.get("knobs") or {}
        if name in knobs:
            return knobs[name]
        raise AttributeError(name)

    def replace(self, **changes: Any) -> CampaignConfig:
        """A copy with ``changes`` applied; knob names go into ``knobs``; switching the
        defense or gate carries over what the new one declares too."""
        knob_names = {p.name for p in KNOBS}
        knobs = {k: changes.pop(k) for k in list(changes) if k in knob_names}
        if knobs:
            changes["knobs"] = {**self.knobs, **knobs}
        for kind, registry in (("defense", DEFENSES), ("gate", GATES)):
            new = changes.get(kind, getattr(self, kind))
            if new != getattr(self, kind) and f"{kind}_params" not in changes and new in registry:
                changes[f"{kind}_params"] = carry_params(
                    registry[getattr(self, kind)], getattr(self, f"{kind}_params"), registry[new])
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("defense_params", "gate_params", "knobs"):
            out[k] = dict(getattr(self, k))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CampaignConfig:
        if not isinstance(data, Mapping):
            raise ValueError(f"a campaign config is an object, not {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in set(data) - known)
        if unknown:
            raise ValueError(f"unknown campaign config field(s): {', '.join(unknown)}")
        return cls(**data)

    def key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def __hash__(self) -> int:
        return hash(self.key())


# --- the result ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Month:
    """One month of a campaign (month 0: the clean model, before any retraining)."""

    month: int
    n_applications: int  # the month's genuine applications
    n_attacker: int  # the attacker's applications the deployed model approved (into the log)
    n_attacker_total: int
    n_log: int  # rows the challenger was trained on
    n_flagged: int  # rows the month's defense flagged
    deployed: bool  # whether the retrained model replaced the running one
    verdict: str  # the gate's reason
    accuracy: float  # of the model running after this month, on the held-out book
    approval_rate: float  # on the reference set
    target_approved: bool
    expected_loss: float  # dollars on the book (and the target's amount if approved)
    boundary_moved: float  # share of reference decisions that differ from month 0
    good_denied: int  # creditworthy book applicants denied that month 0 approved


@dataclass(frozen=True, eq=False)
class CampaignResult:
    """What :func:`run_campaign` returns: a row per month, the grids, the one-shot baseline."""

    config: CampaignConfig
    months: tuple[Month, ...]
    target: np.ndarray  # the attacker's application (features)
    target_amount: float
    attacker_points: np.ndarray  # every attacker application that entered the log
    attacker_month: np.ndarray  # the month each entered
    view: View
    grid_x: np.ndarray | None
    grid_y: np.ndarray | None
    grids: np.ndarray | None  # (months + 1, resolution, resolution): the deployed model's
    one_shot: dict[str, Any]  # the same total poison in month 1
    feature_names: tuple[str, ...]
    timings: dict[str, float] = field(default_factory=dict)
    #: the clean applications the month-0 model learned from (features, true outcomes)
    history: np.ndarray | None = None
    history_labels: np.ndarray | None = None

    @property
    def months_to_target(self) -> int | None:
        """The first month the deployed model approves the target (None: never)."""
        return next((m.month for m in self.months if m.target_approved), None)

    @property
    def rejected_updates(self) -> int:
        return sum(not m.deployed for m in self.months if m.month > 0)

    def to_frame(self) -> pd.DataFrame:
        """The months as a tidy table (one row per month)."""
        table = pd.DataFrame([asdict(m) for m in self.months])
        table.insert(0, "seed", self.config.seed)
        table.insert(1, "defense", self.config.defense)
        table.insert(2, "gate", self.config.gate)
        return table

    def summary(self) -> dict[str, Any]:
        """JSON-ready, identical run after run (no timings, no grids)."""
        return {"config": self.config.to_dict(),
                "months_to_target": self.months_to_target,
                "rejected_updates": self.rejected_updates,
                "target": [float(v) for v in self.target], "target_amount": self.target_amount,
                "months": [asdict(m) for m in self.months], "one_shot": dict(self.one_shot)}


# --- the campaign ------------------------------------------------------------------------------

def _stream(config: CampaignConfig, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` applications: features, true outcomes, loan amounts (1.0 off the loan data)."""
    rs = np.random.RandomState(seed)
    if config.dataset == "loan":
        frame = make_loan_frame(n, noise=config.noise, random_state=rs)
        return (frame[list(LOAN_VIEW)].to_numpy(dtype=float), frame["approved"].to_numpy(),
                frame["loan_amount"].to_numpy(dtype=float))
    X, y = DATASETS[config.dataset].make(n, config.noise, rs)
    return np.asarray(X, dtype=float), np.asarray(y, dtype=np.int64), np.ones(n)


def _approves(model, X: np.ndarray) -> np.ndarray:
    if len(X) == 0:
        return np.zeros(0, dtype=bool)
    return decision_values(model, X) > 0


def _placement(model, anchor: np.ndarray, target: np.ndarray, scale: np.ndarray,
               n: int, spread: float, rs: np.random.RandomState) -> np.ndarray:
    """``n`` applications just inside today's approval region, on the way to the target.

    Along the segment from ``anchor`` (an approved application near the target) to the
    target, the attacker finds the farthest point today's model still approves and
    submits applications around it -- only ones it has seen approved (it probes
    today's model, e.g. through a pre-qualification check), so up to ``n`` of them.
    """
    s = np.linspace(0.0, 1.0, 201)[:, None]
    path = anchor + s * (target - anchor)
    ok = _approves(model, path)
    last = int(np.argmin(ok)) - 1 if not ok.all() else len(ok) - 1
    reach = s[max(last, 0), 0]
    centre = anchor + PLACE * reach * (target - anchor)
    candidates = centre + rs.normal(scale=spread * scale, size=(4 * n, len(anchor)))
    return candidates[_approves(model, candidates)][:n]  # it submits what it saw approved


def run_campaign(config: CampaignConfig, *, attack: bool = True, one_shot: bool = True,
                 progress: Callable[[int, int], None] | None = None) -> CampaignResult:
    """Run the month-by-month campaign ``config`` describes (see the module docstring).

    ``attack=False`` runs the same months with no attacker (what a gate costs: the
    clean updates it rejects). ``one_shot`` also runs the baseline that submits the
    campaign's whole poison in month 1 (``result.one_shot``). ``progress(done,
    total)`` is called after every month.
    """
    if not isinstance(config, CampaignConfig):
        raise TypeError(f"expected a CampaignConfig, got {type(config).__name__}")
    t0 = time.perf_counter()
    result = _campaign(config, attack=attack, schedule=None, progress=progress)
    if one_shot and attack:
        total = result.months[-1].n_attacker_total
        shot = _campaign(config, attack=True, schedule=total, progress=None)
        result = replace(result, one_shot={
            "n_attacker": shot.months[-1].n_attacker_total, "submitted": total,
            "target_approved": shot.months[-1].target_approved,
            "months_to_target": shot.months_to_target,
            "accuracy": shot.months[-1].accuracy,
            "expected_loss": shot.months[-1].expected_loss})
    result.timings["total"] = time.perf_counter() - t0
    return result


def _campaign(config: CampaignConfig, *, attack: bool, schedule: int | None,
              progress) -> CampaignResult:
    k = config.knobs
    months, batch = k["months"], k["batch"]
    data_seed, attack_seed, defense_seed, pick_seed = derive_seeds(config.seed, 4)
    n_fixed = k["n_history"] + k["n_holdout"] + k["n_reference"] + k["n_book"]
    X, y, amount = _stream(config, n_fixed, data_seed)
    # each month's batch from its own seed: a longer campaign extends a shorter one
    month_seeds = [int(c.generate_state(1)[0])
                   for c in np.random.SeedSequence(data_seed).spawn(months)]
    cut = np.cumsum([k["n_history"], k["n_holdout"], k["n_reference"], k["n_book"]])
    hist, hold, ref, book = (slice(a, b) for a, b in zip([0, *cut[:-1]], cut, strict=True))
    model = make_model(config.model, kernel=config.kernel, C=config.C, gamma=config.gamma,
                       degree=config.degree)
    defense = DEFENSES[config.defense](**config.defense_params)
    gate = GATES[config.gate](**config.gate_params)
    scale = X[hist].std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)

    first = fit_clone(model, X[hist], y[hist])
    # the target: a high-value application the clean model clearly denies; the anchor: the
    # approved reference application nearest to it (standardized), where the walk starts
    margin = decision_values(first, X[ref])
    denied = np.flatnonzero(margin <= 0)
    order = denied[np.argsort(-margin[denied], kind="stable")]  # nearest the boundary first
    target = X[ref][order[int(round(k["target_depth"] * (len(order) - 1)))]].copy()
    approved_ref = np.flatnonzero(margin > 0)
    anchor = X[ref][approved_ref[np.argmin(np.linalg.norm(
        (X[ref][approved_ref] - target) / scale, axis=1))]].copy()
    target_amount = float(np.quantile(amount, 0.95))

    view = make_view(X[hist], DATASETS[config.dataset].feature_names)
    res = k["grid_resolution"]
    grid_x = grid_y = None
    grid_pts = None
    if res:
        allp = view.project(np.vstack([X[hist], X[book], target[None]]))
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        pad = 0.05 * np.where(hi > lo, hi - lo, 1.0)
        grid_x = np.linspace(lo[0] - pad[0], hi[0] + pad[0], res)
        grid_y = np.linspace(lo[1] - pad[1], hi[1] + pad[1], res)
        xx, yy = np.meshgrid(grid_x, grid_y)
        grid_pts = view.lift(np.column_stack([xx.ravel(), yy.ravel()]))

    def score(m) -> tuple[float, np.ndarray, dict]:
        ref_dec = _approves(m, X[ref])
        book_dec = _approves(m, X[book])
        hold_acc = float(np.mean(_approves(m, X[hold]) == y[hold].astype(bool)))
        bad = book_dec & (y[book] == 0)
        target_ok = bool(_approves(m, target[None])[0])
        return hold_acc, ref_dec, {
            "accuracy": float(np.mean(book_dec == y[book].astype(bool))),
            "approval_rate": float(ref_dec.mean()), "target_approved": target_ok,
            "expected_loss": float(k["loss_given_default"] * amount[book][bad].sum()
                                   + (target_amount if target_ok else 0.0)),
            "book_dec": book_dec}

    first_hold, first_ref, first_book = score(first)
    rows = [Month(0, k["n_history"], 0, 0, k["n_history"], 0, True, "the clean model",
                  first_book["accuracy"], first_book["approval_rate"],
                  first_book["target_approved"], first_book["expected_loss"], 0.0, 0)]
    grids = [decision_values(first, grid_pts).reshape(res, res)] if res else []

    # the log: features, labels, month of entry, true outcome, is the attacker's, approved
    log_X, log_y = [X[hist]], [y[hist].copy()]
    log_month, log_true = [np.zeros(k["n_history"], int)], [y[hist].copy()]
    log_fake, log_approved = [np.zeros(k["n_history"], bool)], [np.zeros(k["n_history"], bool)]
    champion, champ_hold, champ_ref = first, first_hold, first_ref
    rs = np.random.RandomState(attack_seed)
    fakes, fake_month = [], []
    n_fake_total = 0
    for month in range(1, months + 1):
        Xb, yb, _ = _stream(config, batch, month_seeds[month - 1])
        dec = _approves(champion, Xb)
        parts = [(Xb, dec.astype(np.int64), yb, np.zeros(batch, bool), dec)]
        n_sub = n_in = 0
        if attack:
            n_sub = (schedule if month == 1 else 0) if schedule is not None else \
                int(round(k["attack_rate"] * batch))
        if n_sub:
            P = _placement(champion, anchor, target, scale, n_sub, k["spread"], rs)
            ok = _approves(champion, P)  # the model decides the attacker's applications too
            P = P[ok]
            n_in = len(P)
            if n_in:
                parts.append((P, np.ones(len(P), np.int64), np.zeros(len(P), np.int64),
                              np.ones(len(P), bool), np.ones(len(P), bool)))
                fakes.append(P)
                fake_month.append(np.full(len(P), month))
                n_fake_total += len(P)
        for Xp, yp, tp, fp, ap in parts:
            log_X.append(Xp)
            log_y.append(yp)
            log_true.append(tp)
            log_fake.append(fp)
            log_approved.append(ap)
            log_month.append(np.full(len(yp), month))
        LX, Ly = np.vstack(log_X), np.concatenate(log_y)
        Lm, Lt = np.concatenate(log_month), np.concatenate(log_true)
        Lf, La = np.concatenate(log_fake), np.concatenate(log_approved)
        lag = k["outcome_lag"]
        if lag is not None:  # approved loans' outcomes arrive after the lag
            known = La & (Lm <= month - lag)
            Ly = np.where(known, Lt, Ly)
        window = k["window"]
        rows_in = Lm > month - window if window else np.ones(len(Ly), bool)
        TX, Ty, Tf = LX[rows_in], Ly[rows_in], Lf[rows_in]
        report = defense.sanitize(TX, Ty, model=model, random_state=(defense_seed + month) % 2**32,
                                  is_poison=Tf, trusted=(X[hold], y[hold]))
        keep = report.keep
        challenger = fit_clone(model, TX[keep], report.y[keep]) if keep.any() else champion
        chal_hold, chal_ref, _ = score(challenger)
        deploy, verdict = gate.decide(GateInput(chal_hold, champ_hold, first_hold, chal_ref,
                                                champ_ref, first_ref))
        if deploy:
            champion, champ_hold, champ_ref = challenger, chal_hold, chal_ref
        _, now_ref, now = score(champion)
        good_lost = int(np.sum(first_book["book_dec"] & ~now["book_dec"] & (y[book] == 1)))
        rows.append(Month(month, batch, n_in, n_fake_total, int(len(TX)),
                          report.n_flagged, bool(deploy), verdict, now["accuracy"],
                          now["approval_rate"], now["target_approved"], now["expected_loss"],
                          float(np.mean(now_ref != first_ref)), good_lost))
        if res:
            grids.append(decision_values(champion, grid_pts).reshape(res, res))
        if progress is not None:
            progress(month, months)
    return CampaignResult(
        config=config, months=tuple(rows), target=target, target_amount=target_amount,
        attacker_points=np.vstack(fakes) if fakes else np.zeros((0, X.shape[1])),
        attacker_month=np.concatenate(fake_month) if fake_month else np.zeros(0, int),
        view=view, grid_x=grid_x, grid_y=grid_y, grids=np.stack(grids) if res else None,
        one_shot={}, feature_names=DATASETS[config.dataset].feature_names,
        history=X[hist], history_labels=y[hist])


def compare_campaigns(config: CampaignConfig, *, defense: str | None = None,
                      gate: str | None = None,
                      progress: Callable[[int, int], None] | None = None
                      ) -> dict[str, CampaignResult]:
    """The same campaign three ways: ``"none"`` (no defense, no gate), ``"defense"`` (the
    per-month defense) and ``"gate"`` (the update gate), side by side.

    ``defense`` / ``gate`` default to the config's own (or ``knn_sanitize`` / ``shift``
    when the config has none)."""
    defense = defense or (config.defense if config.defense != "none" else "knn_sanitize")
    gate = gate or (config.gate if config.gate != "none" else "shift")
    variants = {"none": config.replace(defense="none", gate="none"),
                "defense": config.replace(defense=defense, gate="none"),
                "gate": config.replace(defense="none", gate=gate)}
    out = {}
    total = len(variants) * config.knobs["months"]
    for i, (name, cfg) in enumerate(variants.items()):
        step = (lambda d, t, i=i: progress(i * config.knobs["months"] + d, total)) \
            if progress else None
        out[name] = run_campaign(cfg, one_shot=(name == "none"), progress=step)
    return out


#: named campaigns: the story's bank, a linear SVM retrained monthly on its own decisions
CAMPAIGN_SCENARIOS: dict[str, CampaignConfig] = {
    "loan-campaign": CampaignConfig(),
    "loan-campaign-rbf": CampaignConfig(kernel="rbf"),
}
