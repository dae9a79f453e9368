"""A latent-class mixture of mixed behaviour: durations, shares of trials and counts per exposure.

Customers' behaviour comes in three shapes, and each has its own likelihood in each class:

* **durations** (days of lead time, minutes per call): normal on the log scale;
* **shares of trials** (chats among contacts, walkthroughs among finished journeys): binomial;
* **counts per exposure** (status checks per day of waiting): Poisson with the exposure as
  offset.

Within a class the features are independent (local independence, as in latent class analysis);
a missing duration or a share with no trials or a count with no exposure adds nothing to the
likelihood — a customer who never called is not a customer with zero patience. Fitted by EM,
started from k-means on the same features, with the best of ``n_init`` starts kept. Each fit
reports its Bayesian information criterion (``bic_``) and the integrated completed likelihood
(``icl_``: the BIC plus twice the entropy of the class assignments, Biernacki, Celeux & Govaert
2000), which also charges for classes that overlap.
scikit-learn's ``GaussianMixture`` cannot leave a feature out per row or take counts, which is
why this small estimator exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

INIT_SAMPLE = 20_000  # k-means starts from at most this many rows


@dataclass(frozen=True)
class MixtureLayout:
    """Which columns the mixture reads, by shape.

    ``durations`` are positive (log-normal); ``shares`` are ``(successes, trials)`` column pairs;
    ``rates`` are ``(count, exposure)`` column pairs.
    """

    durations: tuple[str, ...] = ()
    shares: tuple[tuple[str, str], ...] = ()
    rates: tuple[tuple[str, str], ...] = ()

    @property
    def columns(self) -> list[str]:
        """Every column read."""
        pairs = [c for pair in (*self.shares, *self.rates) for c in pair]
        return list(dict.fromkeys([*self.durations, *pairs]))

    @property
    def n_features(self) -> int:
        """Features per class: a mean and a spread per duration, a parameter per pair."""
        return 2 * len(self.durations) + len(self.shares) + len(self.rates)


@dataclass(frozen=True)
class _Data:
    logs: np.ndarray  # log durations, 0 where missing
    seen: np.ndarray  # 1 where a duration is present
    successes: np.ndarray
    trials: np.ndarray
    counts: np.ndarray
    exposure: np.ndarray
    count_const: np.ndarray  # per row: -sum(log count!), the Poisson term free of the rate

    @classmethod
    def of(cls, X: pd.DataFrame, layout: MixtureLayout) -> _Data:
        missing = [c for c in layout.columns if c not in X.columns]
        if missing:
            raise ValueError(f"missing behaviour feature(s): {', '.join(missing)}")

        def matrix(cols: list[str]) -> np.ndarray:
            return X[cols].to_numpy("float64") if cols else np.zeros((len(X), 0))

        durations = matrix(list(layout.durations))
        seen = np.isfinite(durations) & (durations > 0)
        logs = np.where(seen, np.log(np.where(seen, durations, 1.0)), 0.0)
        trials = np.nan_to_num(matrix([t for _, t in layout.shares]))
        successes = np.clip(np.nan_to_num(matrix([s for s, _ in layout.shares])), 0, trials)
        exposure = np.clip(np.nan_to_num(matrix([e for _, e in layout.rates])), 0, None)
        counts = np.where(exposure > 0, np.nan_to_num(matrix([c for c, _ in layout.rates])), 0)
        return cls(logs, seen.astype("float64"), successes, trials, counts, exposure,
                   -gammaln(counts + 1).sum(axis=1))

    def rate_view(self) -> np.ndarray:
        """Standardised per-row values for the k-means start (a feature's mean where missing)."""
        def fill(values: np.ndarray, present: np.ndarray) -> np.ndarray:
            mean = (values * present).sum(0) / np.maximum(present.sum(0), 1)
            return np.where(present > 0, values, mean)

        view = np.column_stack([
            fill(self.logs, self.seen),
            fill((self.successes + 0.5) / (self.trials + 1), (self.trials > 0).astype(float)),
            fill(np.log1p(self.counts / np.maximum(self.exposure, 1e-9)),
                 (self.exposure > 0).astype(float))])
        spread = view.std(0)
        return (view - view.mean(0)) / np.where(spread > 0, spread, 1.0)


def log_sum_exp_rows(joint: np.ndarray) -> np.ndarray:
    """Return ``log(sum(exp(row)))`` of each row of a 2-D array, as a column.

    The very arithmetic of :func:`scipy.special.logsumexp` (``axis=1``, ``keepdims=True``) on
    real numbers — the largest term (ties counted) kept apart from the sum of the others, which
    is added with ``log1p`` — so every result is the same to the bit, at half the cost: scipy's
    array-API checks and copies took a third of the EM loop.

    Parameters
    ----------
    joint
        Real numbers, shape (rows, columns); ``-inf`` allowed.

    Returns
    -------
    numpy.ndarray
        Shape (rows, 1).
    """
    top = joint.max(axis=1, keepdims=True)
    is_top = joint == top
    ties = is_top.sum(axis=1, keepdims=True, dtype=joint.dtype)
    others = np.exp(np.where(is_top, -np.inf, joint) - top).sum(axis=1, keepdims=True)
    others = np.where(others == 0, others, others / ties)
    return np.log1p(others) + np.log(ties) + top


class LatentClassMixture(ClusterMixin, BaseEstimator):
    """A mixture of classes, each with its own durations, shares and rates (see module doc).

    Parameters
    ----------
    n_components
        Number of classes.
    layout
        The columns read and their shapes.
    n_init
        EM runs, each from its own k-means start; the most likely fit is kept.
    max_iter, tol
        EM stops after ``max_iter`` steps or when the mean log-likelihood per row gains less
        than ``tol``.
    random_state
        Seed of the starts.

    """

    def __init__(self, n_components: int = 3, layout: MixtureLayout = MixtureLayout(),
                 n_init: int = 3, max_iter: int = 500, tol: float = 1e-7,
                 random_state: int = 0) -> None:
        self.n_components = n_components
        self.layout = layout
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _start(self, data: _Data, seed: int) -> np.ndarray:
        view = data.rate_view()
        rng = np.random.default_rng(seed)
        rows = rng.choice(len(view), min(len(view), INIT_SAMPLE), replace=False)
        km = KMeans(self.n_components, n_init=10, random_state=seed).fit(view[rows])
        return np.eye(self.n_components)[km.predict(view)]

    def _m_step(self, data: _Data, resp: np.ndarray) -> dict[str, np.ndarray]:
        size = resp.sum(0)
        seen = resp.T @ data.seen  # (k, durations)
        mean = (resp.T @ data.logs) / np.maximum(seen, 1e-12)
        square = (resp.T @ data.logs ** 2) / np.maximum(seen, 1e-12)
        var = np.clip(square - mean ** 2, 1e-4, None)
        share = (resp.T @ data.successes + 0.5) / (resp.T @ data.trials + 1.0)
        rate = (resp.T @ data.counts + 0.1) / (resp.T @ data.exposure + 1e-9)
        return {"weight": size / size.sum(), "mean": mean, "var": var, "share": share,
                "rate": rate}

    @staticmethod
    def _log_joint(data: _Data, p: dict[str, np.ndarray]) -> np.ndarray:
        """Return log P(row, class) for every row and class, shape (rows, classes)."""
        mean, var = p["mean"], p["var"]
        normal = -0.5 * (data.seen @ (np.log(2 * np.pi * var) + mean ** 2 / var).T
                         - 2 * data.logs @ (mean / var).T + data.logs ** 2 @ (1 / var).T)
        binomial = (data.successes @ np.log(p["share"]).T
                    + (data.trials - data.successes) @ np.log1p(-p["share"]).T)
        poisson = data.counts @ np.log(p["rate"]).T - data.exposure @ p["rate"].T
        return np.log(p["weight"]) + normal + binomial + poisson + data.count_const[:, None]

    def _em(self, data: _Data, resp: np.ndarray) -> tuple[dict[str, np.ndarray], float]:
        previous = -np.inf
        for _ in range(self.max_iter):
            params = self._m_step(data, resp)
            joint = self._log_joint(data, params)
            total = log_sum_exp_rows(joint)[:, 0]
            resp = np.exp(joint - total[:, None])
            loglik = float(total.mean())
            if loglik - previous < self.tol:
                break
            previous = loglik
        return params, loglik

    def fit(self, X: pd.DataFrame, y: object = None) -> LatentClassMixture:
        """Fit the mixture to a feature table (rows: customers).

        Learns ``params_`` (class weights, log-scale means and variances, shares, rates),
        ``loglik_``, ``bic_``, ``icl_`` and ``labels_``; returns ``self``.
        """
        data = _Data.of(X, self.layout)
        fits = [self._em(data, self._start(data, self.random_state + i))
                for i in range(self.n_init)]
        self.params_, mean_loglik = max(fits, key=lambda fit: fit[1])
        self.loglik_ = mean_loglik * len(X)
        free = (self.n_components - 1) + self.n_components * self.layout.n_features
        self.bic_ = -2 * self.loglik_ + free * np.log(len(X))
        posterior = self.predict_proba(X)
        entropy = -float(np.sum(posterior * np.log(np.clip(posterior, 1e-300, None))))
        self.icl_ = self.bic_ + 2 * entropy
        self.labels_ = posterior.argmax(axis=1)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Return each row's posterior probability of each class."""
        check_is_fitted(self, "params_")
        joint = self._log_joint(_Data.of(X, self.layout), self.params_)
        return np.exp(joint - log_sum_exp_rows(joint))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Return each row's most probable class."""
        return self.predict_proba(X).argmax(axis=1)
