"""What a training run leaves behind: the per-epoch :class:`History`, and :class:`TrainingDiverged`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["History", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """Raised by the training loops when a loss term becomes NaN or infinite.

    ``term`` and ``value`` name the offending term; ``where`` (e.g. "at epoch 2, step 3") locates it.
    """

    def __init__(self, term: str, value: float, where: str = ""):
        self.term, self.value, self.where = term, value, where
        super().__init__(
            f"training diverged: {term} = {value}{' ' + where if where else ''}; lower the learning rate, clip "
            "gradients (grad_clip=...) or check the loss for log(0) or division by zero"
        )


class History:
    """Per-epoch records of a training run: one dict per epoch, plottable directly.

    ``history["loss"]`` is the list of that key's values over the epochs that logged it,
    ``history.epochs("val_loss")`` the matching epoch numbers (1-based), ``history.records`` the
    raw rows. :func:`dgmlib.plotting.plot_history` draws it.

    Example:
        >>> h = History([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.5}])
        >>> h["loss"], h.epochs("loss")
        ([2.0, 1.5], [1, 2])
    """

    def __init__(self, records: Iterable[Mapping] | None = None):
        self.records: list[dict] = [dict(r) for r in (records or [])]

    def append(self, record: Mapping) -> None:
        self.records.append(dict(record))

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(k for k in r if k != "epoch"))
        return list(seen)

    def epochs(self, key: str) -> list[int]:
        self._check_key(key)
        return [r["epoch"] for r in self.records if key in r]

    def __getitem__(self, key: str) -> list:
        self._check_key(key)
        return [r[key] for r in self.records if key in r]

    def __contains__(self, key) -> bool:
        return key in self.keys()

    def __len__(self) -> int:
        return len(self.records)

    def last(self) -> dict:
        """The latest value of every key."""
        out: dict = {}
        for r in self.records:
            out.update(r)
        return out

    def _check_key(self, key):
        if key not in self.keys():
            raise KeyError(f"{key!r} was not logged; logged keys: {self.keys()}")

    def __repr__(self) -> str:
        last = {k: v for k, v in self.last().items() if isinstance(v, (int, float))}
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in last.items())
        return f"History({len(self)} epochs; last: {shown})"
