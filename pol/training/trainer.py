"""Training one learner with mini-batch SGD and early stopping, a snapshot per epoch.

What `train` does, exactly:

- Loss: cross-entropy for classification, mean squared error on standardized targets for
  regression. L1 and L2 add `lambda * sum(|w|)` and `lambda * sum(w ** 2)` over the weight
  matrices (not the biases) to the loss that is minimised; the losses reported in each
  Performance are the data losses alone, so they compare across regularisations.
- Optimiser: `torch.optim.SGD(lr=alpha, momentum=momentum)`; with `lr_step_size > 0` the
  rate is multiplied by `lr_gamma` every `lr_step_size` epochs (StepLR).
- Batches: each epoch visits the train rows in a permutation drawn from a generator of its
  own; the last batch of an epoch may be smaller.
- Stopping: after `max_epochs` epochs, after `max_updates` updates (which may end an epoch
  early), when the validation loss has not improved for `patience` epochs, or when the
  training or validation loss is not finite (status "failed").
- Metrics: after each epoch the learner is evaluated, without dropout, on every split.
  Regression `mse` and `mae` are on the original scale of the target; `loss` is on the
  standardized scale that training minimises.
- Seeds: the learner's seed, of any size, feeds a numpy SeedSequence that yields one seed
  for initialisation and dropout and one for the batch order; torch's, numpy's and
  Python's global generators are seeded too. The same learner and seed give the same
  numbers bit for bit on the same device and torch build.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from ..errors import StateError, ValidationError
from ..model import (
    ConfusionMatrix,
    HyperParameters,
    Indices,
    Layer,
    LayerConfiguration,
    Learner,
    LearnerPerformance,
    Performance,
    Snapshot,
    Tensor,
)
from .datasets import LoadedDataset, Split, Splits
from .learners import build_learner, layer_configurations, layers_of, load_layers, weights
from .state import decode_state, encode_state

logger = logging.getLogger(__name__)

OUTCOME_STATUSES = ("completed", "stopped_early", "failed", "paused")
# Rows evaluated at once; bounds memory for large splits without changing any result.
EVALUATION_CHUNK = 8192
STATE_VERSION = 2


class EarlyStopping:
    """Stop when the validation loss has not improved for `patience` epochs in a row.

    Only a finite loss strictly below the best so far is an improvement.
    """

    def __init__(self, patience: int) -> None:
        if isinstance(patience, bool) or int(patience) != patience or patience < 1:
            raise ValidationError("patience", patience, "an integer >= 1")
        self.patience = int(patience)
        self.best_epoch: int | None = None
        self.best_loss = math.inf
        self.bad_epochs = 0
        self.improved = False

    def update(self, epoch: int, valid_loss: float) -> bool:
        """Record the validation loss of `epoch`; return True when training should stop."""
        self.improved = math.isfinite(valid_loss) and valid_loss < self.best_loss
        if self.improved:
            self.best_epoch, self.best_loss, self.bad_epochs = epoch, float(valid_loss), 0
        else:
            self.bad_epochs += 1
        return self.should_stop

    @property
    def should_stop(self) -> bool:
        """Return True once `patience` epochs in a row have not improved."""
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        """Return the state to save with a snapshot."""
        return {
            "patience": self.patience,
            "best_epoch": self.best_epoch,
            "best_loss": self.best_loss,
            "bad_epochs": self.bad_epochs,
            "improved": self.improved,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a state `state_dict` returned."""
        self.patience = int(state["patience"])
        self.best_epoch = state["best_epoch"]
        self.best_loss = float(state["best_loss"])
        self.bad_epochs = int(state["bad_epochs"])
        self.improved = bool(state["improved"])


@dataclass
class TrainingOutcome:
    """How a call to `train` ended.

    `epochs` counts every epoch run (including those before a resume), `best_epoch` is the
    zero-based epoch of the lowest validation loss, and `performance` and `layers` are the
    learner's at that epoch; when no epoch had a finite validation loss they are the last
    epoch's and `best_epoch` is None.
    """

    status: str
    reason: str
    epochs: int
    updates: int
    best_epoch: int | None
    performance: LearnerPerformance
    layers: list[Layer]
    elapsed: float


def train(
    learner: Learner,
    data: LoadedDataset,
    indices: Indices,
    *,
    on_snapshot: Callable[[Snapshot], None],
    should_stop: Callable[[], bool] = lambda: False,
    snapshot_every: int = 1,
    device: str | torch.device = "cpu",
    progress: Callable[[int, dict[str, float]], None] | None = None,
    start_from: Snapshot | None = None,
) -> TrainingOutcome:
    """Train `learner` on `data` split by `indices`; return how training ended.

    A snapshot goes to `on_snapshot` after every `snapshot_every` epochs and after the last
    epoch. `should_stop` is asked at each snapshot boundary; when it answers True that
    snapshot is written and the outcome is "paused". `start_from` continues from a
    snapshot whose layer tensors and training state have values, exactly as if training
    had never stopped; a snapshot without a training state only gives the starting
    weights (a warm start: fresh optimiser, epoch 0).
    """
    if (
        isinstance(snapshot_every, bool)
        or int(snapshot_every) != snapshot_every
        or snapshot_every < 1
    ):
        raise ValidationError("snapshot_every", snapshot_every, "an integer >= 1")
    run = _Run(learner, data, indices, torch.device(device))
    if start_from is not None:
        run.resume(start_from)
    return run.loop(on_snapshot, should_stop, int(snapshot_every), progress)


def hyper_parameters_for(
    learner_type: str, hyper_parameters: HyperParameters, data: LoadedDataset, indices: Indices
) -> HyperParameters:
    """Return `hyper_parameters` with the layer configurations and batch counts of this data."""
    module = build_learner(learner_type, *_widths(learner_type, data), hyper_parameters)
    sizes = indices.sizes()
    batches = {
        f"n_{name}_batches": math.ceil(size / hyper_parameters.batch_size)
        for name, size in sizes.items()
    }
    return hyper_parameters.with_values(layers=layer_configurations(module), **batches)


def seeds(seed: int) -> tuple[int, int]:
    """Return (initialisation and dropout seed, batch-order seed) for a seed of any size."""
    sequence = np.random.SeedSequence(int(seed) % 2**128)
    first, second = sequence.generate_state(2, dtype=np.uint64).tolist()
    return first % 2**63, second % 2**63


class _Run:
    """The state of one call to `train`: module, optimiser, generators and counters."""

    def __init__(
        self, learner: Learner, data: LoadedDataset, indices: Indices, device: torch.device
    ) -> None:
        self.learner, self.data, self.device = learner, data, device
        self.hp = learner.hyper_parameters
        self.classification = data.task == "classification"
        model_seed, order_seed = seeds(learner.seed)
        torch.manual_seed(model_seed)
        random.seed(model_seed)
        np.random.seed(model_seed % 2**32)
        self.generator = torch.Generator().manual_seed(model_seed)
        self.order = torch.Generator().manual_seed(order_seed)

        self.splits = data.splits(indices)
        self.tensors = {name: self._to_device(split) for name, split in self.splits}
        self.model = build_learner(
            learner.learner_type,
            *_widths(learner.learner_type, data),
            self.hp,
            generator=self.generator,
        ).to(device)
        self.optimiser = torch.optim.SGD(
            self.model.parameters(), lr=self.hp.alpha, momentum=self.hp.momentum
        )
        self.scheduler = (
            torch.optim.lr_scheduler.StepLR(self.optimiser, self.hp.lr_step_size, self.hp.lr_gamma)
            if self.hp.lr_step_size > 0
            else None
        )
        self.stopping = EarlyStopping(self.hp.patience)
        self.epoch, self.updates, self.elapsed_before = 0, 0, 0.0
        self.best: tuple[int, LearnerPerformance, list[Layer]] | None = None
        self.last: tuple[LearnerPerformance, list[Layer]] | None = None

    def _to_device(self, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            torch.from_numpy(split.features).to(self.device),
            torch.from_numpy(split.targets).to(self.device),
        )

    def resume(self, snapshot: Snapshot) -> None:
        """Load a snapshot's weights and, when it has one, its training state."""
        load_layers(self.model, snapshot.layers)
        state_tensor = snapshot.training_state
        if state_tensor is None or not state_tensor.loaded:
            logger.info(
                "learner %s warm-started from snapshot of epoch %d", self.learner.id, snapshot.epoch
            )
            return
        state = decode_state(state_tensor.values)
        if state.get("version") != STATE_VERSION or state["epoch"] != snapshot.epoch:
            raise ValidationError(
                "start_from.training_state", state.get("version"), f"version {STATE_VERSION}"
            )
        self.optimiser.load_state_dict(state["optimiser"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.stopping.load_state_dict(state["early_stopping"])
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])
        self.generator.set_state(state["generator"])
        self.order.set_state(state["batch_order"])
        self.epoch, self.updates = snapshot.epoch + 1, int(state["updates"])
        self.elapsed_before = float(snapshot.elapsed)
        self.last = (snapshot.performance, snapshot.layers)
        best = state["best"]
        if self.stopping.best_epoch == snapshot.epoch:
            self.best = (snapshot.epoch, snapshot.performance, snapshot.layers)
        elif best is not None:
            saved = _layers(best["layers"], layer_configurations(self.model))
            self.best = (
                best["epoch"],
                LearnerPerformance.from_document(best["performance"]),
                saved,
            )
        finished = self._finished_reason(self.epoch)
        if finished is not None:
            raise StateError(f"learner {self.learner.id} has nothing left to train: {finished[1]}")
        logger.info("learner %s resumed after epoch %d", self.learner.id, snapshot.epoch)

    def loop(
        self,
        on_snapshot: Callable[[Snapshot], None],
        should_stop: Callable[[], bool],
        snapshot_every: int,
        progress: Callable[[int, dict[str, float]], None] | None,
    ) -> TrainingOutcome:
        """Run epochs until a stopping rule holds; return the outcome."""
        started = time.monotonic()
        logger.info(
            "learner %s training %s from epoch %d on %s",
            self.learner.id,
            self.learner.learner_type,
            self.epoch,
            self.data.dataset.name,
        )
        while True:
            epoch = self.epoch
            batch_loss = self._train_epoch()
            if self.scheduler is not None:
                self.scheduler.step()
            performance = self._evaluate()
            elapsed = self.elapsed_before + time.monotonic() - started
            valid_loss = performance.valid.loss
            self.stopping.update(epoch, valid_loss)
            ending = self._failure(epoch, batch_loss, performance) or self._finished_reason(
                epoch + 1
            )

            boundary = ending is not None or (epoch + 1) % snapshot_every == 0
            layers = layers_of(self.model) if boundary or self.stopping.improved else None
            if self.stopping.improved:
                self.best = (epoch, performance, layers)
            self.last = (performance, layers)
            if progress is not None:
                progress(epoch, self._progress(performance, elapsed))
            logger.debug("learner %s epoch %d valid loss %s", self.learner.id, epoch, valid_loss)
            if boundary:
                if ending is None and should_stop():
                    ending = ("paused", f"paused after epoch {epoch}")
                on_snapshot(self._snapshot(epoch, elapsed, performance, layers))
            self.epoch = epoch + 1
            if ending is not None:
                return self._outcome(*ending, elapsed)

    def _train_epoch(self) -> float:
        """Run one epoch of mini-batch updates; return the mean mini-batch loss."""
        features, targets = self.tensors["train"]
        order = torch.randperm(len(targets), generator=self.order).to(self.device)
        self.model.train()
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        seen = 0
        for start in range(0, len(targets), self.hp.batch_size):
            if self.updates >= self.hp.max_updates:
                break
            rows = order[start : start + self.hp.batch_size]
            data_loss = self._loss(self.model(features[rows]), targets[rows])
            loss = data_loss + self._penalty()
            self.optimiser.zero_grad(set_to_none=True)
            loss.backward()
            self.optimiser.step()
            self.updates += 1
            total += data_loss.detach().double() * len(rows)
            seen += len(rows)
        return float(total) / max(seen, 1)

    def _loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.classification:
            return functional.cross_entropy(outputs, targets)
        return functional.mse_loss(outputs.squeeze(-1), targets)

    def _penalty(self) -> torch.Tensor | float:
        if self.hp.regularisation == "l2" and self.hp.lambda_:
            return self.hp.lambda_ * sum(weight.pow(2).sum() for weight in weights(self.model))
        if self.hp.regularisation == "l1" and self.hp.lambda_:
            return self.hp.lambda_ * sum(weight.abs().sum() for weight in weights(self.model))
        return 0.0

    def _evaluate(self) -> LearnerPerformance:
        """Return the learner's performance on every split, without dropout."""
        self.model.eval()
        scores = {}
        with torch.no_grad():
            for name, (features, targets) in self.tensors.items():
                if len(targets) == 0:
                    continue
                outputs = torch.cat(
                    [self.model(chunk) for chunk in features.split(EVALUATION_CHUNK)]
                )
                loss = float(self._loss(outputs, targets))
                scores[name] = (
                    self._classification(name, loss, outputs, targets)
                    if self.classification
                    else _regression(name, loss, outputs, targets, self.splits)
                )
        return LearnerPerformance(**scores)

    def _classification(
        self, split: str, loss: float, outputs: torch.Tensor, targets: torch.Tensor
    ) -> Performance:
        labels = self.data.dataset.labels
        predicted = outputs.argmax(dim=1).cpu().numpy()
        true = targets.cpu().numpy()
        matrix = ConfusionMatrix.of_positions(true, predicted, labels)
        precision, recall, f1 = matrix.macro_scores()
        return Performance(
            split=split,
            loss=loss,
            accuracy=float((predicted == true).mean()),
            precision=precision,
            recall=recall,
            f1=f1,
            confusion_matrix=matrix,
        )

    def _failure(
        self, epoch: int, batch_loss: float, performance: LearnerPerformance
    ) -> tuple[str, str] | None:
        for name, loss in (
            ("training", batch_loss),
            ("training", performance.train.loss),
            ("validation", performance.valid.loss),
        ):
            if not math.isfinite(loss):
                return "failed", f"{name} loss became {loss!r} at epoch {epoch}"
        return None

    def _finished_reason(self, epochs: int) -> tuple[str, str] | None:
        """Return (status, reason) when training must end after `epochs` epochs, else None."""
        if self.stopping.should_stop:
            return (
                "stopped_early",
                (
                    f"validation loss did not improve for {self.stopping.patience} epochs "
                    f"after epoch {self.stopping.best_epoch}"
                ),
            )
        if self.updates >= self.hp.max_updates:
            return "completed", f"reached max_updates ({self.hp.max_updates})"
        if epochs >= self.hp.max_epochs:
            return "completed", f"reached max_epochs ({self.hp.max_epochs})"
        return None

    def _snapshot(
        self, epoch: int, elapsed: float, performance: LearnerPerformance, layers: list[Layer]
    ) -> Snapshot:
        return Snapshot(
            learner_id=self.learner.id,
            experiment_id=self.learner.experiment_id,
            epoch=epoch,
            updates=self.updates,
            elapsed=elapsed,
            performance=performance,
            layers=layers,
            training_state=self._training_state(epoch),
        )

    def _training_state(self, epoch: int) -> Tensor:
        """Return everything besides the weights needed to continue after `epoch`, as bytes.

        Wall-clock time stays out (it is the snapshot's `elapsed`), so the same run gives
        the same bytes.
        """
        best = None
        if self.best is not None and self.best[0] != epoch:
            best_epoch, performance, layers = self.best
            best = {
                "epoch": best_epoch,
                "performance": performance.to_document(),
                "layers": {
                    layer.configuration.label: {
                        t.name: torch.from_numpy(t.to_numpy().copy()) for t in layer.tensors
                    }
                    for layer in layers
                },
            }
        state = {
            "version": STATE_VERSION,
            "epoch": epoch,
            "updates": self.updates,
            "optimiser": self.optimiser.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "early_stopping": self.stopping.state_dict(),
            "rng": {
                "python": random.getstate(),
                "numpy": np.random.get_state(),
                "torch": torch.get_rng_state(),
            },
            "generator": self.generator.get_state(),
            "batch_order": self.order.get_state(),
            "best": best,
        }
        return Tensor.of_bytes("training_state", encode_state(state))

    def _progress(self, performance: LearnerPerformance, elapsed: float) -> dict[str, float]:
        return {
            "train_loss": performance.train.loss,
            "valid_loss": performance.valid.loss,
            "updates": self.updates,
            "lr": self.optimiser.param_groups[0]["lr"],
            "elapsed": elapsed,
        }

    def _outcome(self, status: str, reason: str, elapsed: float) -> TrainingOutcome:
        if self.best is not None:
            best_epoch, performance, layers = self.best
        else:
            best_epoch, (performance, layers) = None, self.last
        log = logger.warning if status == "failed" else logger.info
        log("learner %s %s: %s", self.learner.id, status, reason)
        return TrainingOutcome(
            status=status,
            reason=reason,
            epochs=self.epoch,
            updates=self.updates,
            best_epoch=best_epoch,
            performance=performance,
            layers=layers,
            elapsed=elapsed,
        )


def _regression(
    split: str, loss: float, outputs: torch.Tensor, targets: torch.Tensor, splits: Splits
) -> Performance:
    scale, shift = splits.target_std, splits.target_mean
    predicted = outputs.squeeze(-1).double().cpu().numpy() * scale + shift
    true = targets.double().cpu().numpy() * scale + shift
    errors = predicted - true
    return Performance(
        split=split, loss=loss, mse=float(np.mean(errors**2)), mae=float(np.mean(np.abs(errors)))
    )


def _widths(learner_type: str, data: LoadedDataset) -> tuple[int, int]:
    """Return (n_inputs, n_outputs) of a learner of `learner_type` for `data`."""
    if learner_type != "mlp" and not data.is_sequence:
        raise ValidationError(
            "learner_type",
            learner_type,
            f"mlp for {data.dataset.name}, which has no window; recurrent learners need sequences",
        )
    n_inputs = (
        int(np.prod(data.features.shape[1:])) if learner_type == "mlp" else data.features.shape[2]
    )
    return n_inputs, data.n_outputs


def _layers(
    saved: dict[str, dict[str, torch.Tensor]], configurations: list[LayerConfiguration]
) -> list[Layer]:
    """Return the layers of a best model saved in a training state."""
    return [
        Layer(
            configuration,
            [
                Tensor.from_torch(name, values)
                for name, values in saved[configuration.label].items()
            ],
        )
        for configuration in configurations
    ]


__all__ = [
    "OUTCOME_STATUSES",
    "EarlyStopping",
    "TrainingOutcome",
    "hyper_parameters_for",
    "seeds",
    "train",
]
