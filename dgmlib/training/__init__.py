"""The one training loop of the course, and the epoch engine it shares with the adversarial loop.

The contract (see ``GUIDE.md``): a model offers ``loss(x) -> dict`` whose first key is ``"loss"``,
the scalar to minimize, and whose other entries are named terms to log (``{"loss", "recon",
"kl"}``). :func:`fit` knows nothing else about the model:

>>> history = fit(model, train_x, epochs=budget(full=30, fast=1), val_data=test_x)
>>> plot_history(history)

Adversarial models (a GAN's two players) train with :func:`dgmlib.gan.train_gan`, on the same
engine (:func:`run_epochs`: progress bar, history, evaluation hook, divergence guard,
checkpoints). :func:`train_step` is fit's update on its own, for loops of your own.

Rooms: ``history`` (History, TrainingDiverged), ``batches`` (data in, batches out), ``step``
(the contract and one update), ``engine`` (the epochs; ``run_steps`` for full-batch loops),
``schedule`` (learning-rate decay), ``fit`` (fit, evaluate).
"""

from .batches import batches
from .engine import run_epochs, run_steps
from .fit import evaluate, fit
from .history import History, TrainingDiverged
from .step import train_step

__all__ = ["fit", "train_step", "evaluate", "run_epochs", "run_steps", "History", "TrainingDiverged", "batches"]
