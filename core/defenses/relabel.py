"""Relabelling with a trusted sample: keep or flip each batch, whichever fits the trusted data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from core.defenses._memo import Memo, digest
from core.defenses.base import Defense, Sanitized, victim_loss
from core.defenses.training import spatial_batches, victim_view
from core.params import Bool, Choice, Cost, Int

__all__ = ["TrustedRelabel", "TrustedReject", "trusted_vote"]

#: a point that this share of the cuttings, but not all, would flip is dropped
UNSURE_SHARE = 0.75
#: the reconciling vote: neighbours (training and trusted) and the share that relabels
VOTE_K, VOTE_SHARE = 10, 0.6
#: verdicts kept per process: ``trusted_reject`` after ``trusted_relabel`` on the same data
#: (a matrix cell, a dashboard user switching between them) reuses them instead of refitting
VERDICTS = Memo(4)


def _verdict_key(defense: TrustedRelabel, X, y, X_t, y_t, model, random_state) -> bytes | None:
    """What the verdicts depend on: the data, the victim's parameters, the cutting, the seed."""
    params = model.get_params(deep=True) if hasattr(model, "get_params") else {}
    plain = sorted((k, repr(v)) for k, v in params.items()
                   if k != "steps" and not hasattr(v, "get_params"))
    return digest(random_state, X, y, X_t, y_t, type(model).__name__, plain,
                  defense.batch_size, defense.n_partitions, defense.thorough)


def _rotation(d: int, rs: np.random.RandomState) -> np.ndarray:
    """A uniformly random ``d`` x ``d`` rotation (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rs.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


class TrustedRelabel(Defense):
    """Relabel batches of training points whose flipped labels fit the trusted data better.

    A greedy, batch-local form of DUTI: Zhang, Zhu & Wright, "Training Set
    Debugging Using Trusted Items", AAAI 2018, which looks for the fewest label
    changes that make the model trained on the training set plus the trusted
    items fit the trusted items. The with/without refits are those of RONI
    (Nelson et al., LEET 2008; see :class:`~core.defenses.training.RONI`), but
    the two candidates are the batch as labelled and the batch with its labels
    flipped, so a flipped band is given its labels back instead of being
    dropped: dropping points next to the boundary also drops what they say
    about where it runs, which is why even the drop-only ``oracle`` recovers
    only part of what a targeted flip takes.

    What is computed:

    1. **Batches.** In the victim's standardization, each class is cut into
       cells of at most ``batch_size`` neighbouring points
       (:func:`~core.defenses.training.spatial_batches`); a cell is judged as one.
    2. **Verdict.** Fit the victim's classifier on the trusted sample ``T``
       plus the cell ``C`` as labelled, and on ``T`` plus ``C`` with flipped
       labels; gain = mean loss on ``T`` (the victim's own: hinge or logistic)
       of the first fit minus that of the second. A cell every point of which
       the trusted-only model already fits with its label by a margin
       (``y f(x) >= 1``) is kept without refits (for an SVM adding it changes
       nothing, and its flip is not worth testing).
    3. **Partitions.** The cutting is repeated ``partitions`` times, the
       first in the features' own axes, the others after a random rotation,
       so a cell that straddles the true boundary in one cutting does not
       decide alone. A point's score is its cells' mean gain; points scoring
       above 0 are relabelled.
    4. **Reconciling vote.** Each training point's 10 nearest other points,
       training (labels as above) and trusted alike, vote as in
       :class:`~core.defenses.labels.KNNSanitize` (Paudice et al. 2018), with
       the trusted points among the voters (:func:`trusted_vote`): 0.6 of them
       against relabels, to a fixed point; a point whose label the vote
       changes is dropped (the cells and its neighbours disagree about it).
       Every other row is kept.

    ``thorough=True`` (slower; not the default) changes step 3:

    - **Two cell sizes.** Four cuttings by default, alternating cells of
      ``ceil(batch_size / 2)`` points (the first) and of ``batch_size``
      points, so a thin flipped band and a noisy overlap are both seen at a
      scale that fits them.
    - **Verdict per point.** A point every cutting would flip is relabelled;
      one that at least three quarters of them, but not all, would flip is
      dropped (unsure).

    At 300 training points and 50 trusted ones a partition costs about 40
    refits on ~60 points; the thorough rules cost about 2.5 times that, which
    is why they are opt-in. (How the defaults were chosen and what they
    measure: ``docs/benchmarks.md``.)

    Score = the mean gain of flipping the point's cells over the cuttings
    (trusted-loss decrease; a cell kept without refits contributes minus the
    point's margin, at most -1).
    Threat model: the defender holds a trusted clean sample from the data
    distribution (``trusted_fraction`` > 0) and the victim model; it assumes
    the attacker changed labels (or injected points whose labels are wrong for
    where they sit), and that a wrong label near trusted points raises their loss.

    Parameters
    ----------
    batch_size : int, default=10
        Points per cell, 1 to 50.
    partitions : int, default=None
        Cuttings, 1 to 10; None = 2, or 4 when ``thorough`` (whose 1st, 3rd, ...
        cuttings have cells of ``ceil(batch_size / 2)``).
    thorough : bool, default=False
        Two cell sizes and a verdict per point (drop the unsure).
    mode : {"relabel", "drop"}, default="relabel"
        What happens to a flagged row: relabelled (or dropped where the vote
        overrules the cells), or always dropped (:class:`TrustedReject`).
    """

    name = "trusted_relabel"
    summary = ("relabel batches whose flipped labels fit the trusted data better "
               "(after DUTI, Zhang et al. 2018)")
    needs_trusted = True
    params = (
        Int("batch_size", 10, 1, 50, "points per cell"),
        Int("partitions", None, 1, 10, "cuttings (none = 2, or 4 when thorough)",
            nullable=True),
        Bool("thorough", False, "two cell sizes and a verdict per point (drop the unsure)"),
        Choice("mode", "relabel", ("relabel", "drop"), "what happens to a flagged point"),
    )
    #: refits the model once per cell and cutting
    cost = Cost(above=600, seconds=0.25, power=1.3)

    @property
    def n_partitions(self) -> int:
        """``partitions``, or its default for ``thorough``."""
        return (4 if self.thorough else 2) if self.partitions is None else self.partitions

    def _verdicts(self, X, y, X_t, y_t, model, rs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(score, new labels, keep)``: the cells' verdicts reconciled by the vote."""
        clf, Z, Z_t = victim_view(model, X, X_t)
        score = np.zeros(len(y))
        votes = np.zeros(len(y))  # cuttings whose cell gains by flipping
        # one estimator refitted for every cell: fit() starts from scratch (no warm start in
        # the victims), and cloning each time was an eighth of the run
        est = clone(clf)
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            margin = (2 * y - 1) * est.fit(Z_t, y_t).decision_function(Z)

            def trusted_loss(y_cell: np.ndarray, rows: np.ndarray) -> float:
                est.fit(np.vstack([Z_t, Z[rows]]), np.concatenate([y_t, y_cell]))
                return float(victim_loss(est, Z_t, y_t).mean())

            for p in range(self.n_partitions):
                view = Z if p == 0 else Z @ _rotation(Z.shape[1], rs)
                half = self.thorough and p % 2 == 0
                size = -(-self.batch_size // 2) if half else self.batch_size
                for rows in spatial_batches(view, y, size):
                    if (margin[rows] >= 1.0).all():
                        score[rows] -= margin[rows]
                        continue
                    gain = trusted_loss(y[rows], rows) - trusted_loss(1 - y[rows], rows)
                    score[rows] += gain
                    votes[rows] += gain > 0
        score /= self.n_partitions
        if self.thorough:
            share = votes / self.n_partitions
            first = np.where(share == 1.0, 1 - y, y)  # every cutting agrees: relabel
            unsure = (share >= UNSURE_SHARE) & (share < 1.0)  # most but not all agree: drop
        else:
            first = np.where(score > 0, 1 - y, y)  # the cuttings' mean gain says flip
            unsure = np.zeros(len(y), dtype=bool)
        y_new = trusted_vote(X, first, X_t, y_t)
        keep = ~unsure & (y_new == first)  # the vote overrules the cells: drop
        return score, y_new, keep

    def sanitize(self, X, y, *, model=None, random_state=None, is_poison=None,
                 trusted=None) -> Sanitized:
        if trusted is None:
            raise ValueError(f"{self.name} needs a trusted clean sample (trusted=(X, y)); "
                             "set trusted_fraction > 0")
        if model is None:
            raise ValueError(f"{self.name} needs the victim model (model=...)")
        rs = check_random_state(random_state)
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        X_t, y_t = np.asarray(trusted[0], dtype=float), np.asarray(trusted[1])
        per_class = np.bincount(y_t, minlength=2)
        if per_class.min() < 1:
            raise ValueError(f"{self.name} needs trusted points of both classes; "
                             f"the trusted sample has {per_class.tolist()}")
        key = _verdict_key(self, X, y, X_t, y_t, model, random_state)
        score, y_new, keep = VERDICTS.get_or_compute(
            key, lambda: self._verdicts(X, y, X_t, y_t, model, rs))
        flagged = (y_new != y) | ~keep
        if self.mode == "drop":
            return self._drop(flagged, score, y)
        return Sanitized(~flagged, score, keep, y_new, relabels=True)


class TrustedReject(TrustedRelabel):
    """Drop the training points that :class:`TrustedRelabel` would relabel or drop.

    The same verdicts -- cells of neighbouring points whose flipped labels fit
    the defender's trusted sample better (after DUTI: Zhang, Zhu & Wright,
    "Training Set Debugging Using Trusted Items", AAAI 2018), reconciled by a
    kNN vote with the trusted points among the voters -- but every flagged row
    is dropped instead of relabelled, as RONI (Nelson et al., LEET 2008)
    rejects a point rather than mend it.

    Which is better depends on the attack, and the matrix shows it: a flipped
    label has a right label to go back to, so relabelling wins against label
    flips (dropping a flipped band also drops what it says about where the
    boundary runs); an injected point has none -- it is not part of the real
    data at all -- so dropping wins against injections (measured in
    ``docs/benchmarks.md``).

    Score = that of :class:`TrustedRelabel` (the mean gain of flipping the
    point's cells). Threat model: as :class:`TrustedRelabel` (a trusted clean
    sample and the victim model).

    Parameters
    ----------
    batch_size, partitions, thorough :
        As :class:`TrustedRelabel`.
    mode : {"drop", "relabel"}, default="drop"
    """

    name = "trusted_reject"
    summary = ("drop batches whose flipped labels fit the trusted data better "
               "(after DUTI, Zhang et al. 2018)")

    params = tuple(replace(p, default="drop") if p.name == "mode" else p
                   for p in TrustedRelabel.params)


def trusted_vote(X: np.ndarray, y: np.ndarray, X_t: np.ndarray, y_t: np.ndarray, *,
                 k: int = VOTE_K, threshold: float = VOTE_SHARE,
                 max_iter: int = 10) -> np.ndarray:
    """Training labels after a kNN vote in which the trusted points also vote.

    Each training point's ``k`` nearest other points among the training and
    the trusted ones (features standardized on the training set) vote; a
    point whose label at least ``threshold`` of them contradict is relabelled,
    and the vote is repeated with the new training labels (the trusted labels
    never change) until nothing changes or ``max_iter`` votes.
    """
    y = np.asarray(y)
    scaler = StandardScaler().fit(X)
    Z = np.vstack([scaler.transform(X), scaler.transform(X_t)])
    n, k = len(y), min(k, len(y) + len(y_t) - 1)
    neigh = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z[:n],
                                                                  return_distance=False)
    # drop each point itself (or, among duplicates, its last neighbour)
    own = neigh == np.arange(n)[:, None]
    own[~own.any(axis=1), -1] = True
    neigh = neigh[~own].reshape(n, k)
    trusted_rows = neigh >= n
    current = y.copy()
    for _ in range(max_iter):
        labels = np.where(trusted_rows, y_t[np.where(trusted_rows, neigh - n, 0)],
                          current[np.where(trusted_rows, 0, neigh)])
        against = (labels != current[:, None]).mean(axis=1)
        new = np.where(against >= threshold - 1e-12, 1 - current, current)
        if np.array_equal(new, current):
            break
        current = new
    return current
