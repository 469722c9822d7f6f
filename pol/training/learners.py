"""The learners POL trains: a feed-forward MLP and Elman, LSTM and GRU recurrent networks.

Every learner is a stack of hidden layers labelled "hidden_0", "hidden_1", ... followed
by a linear layer labelled "output". A layer's parameters become Tensors named:

- "weights", "biases": a linear layer's weight matrix (outputs x inputs) and bias vector;
  for a recurrent layer, the input-to-hidden weights and biases;
- "weights_hh", "biases_hh": a recurrent layer's hidden-to-hidden weights and biases.

LSTM and GRU tensors keep torch's gate order stacked along the first axis
(LSTM: input, forget, cell, output; GRU: reset, update, new).

Weights are initialised Glorot (Xavier) uniform, gate by gate for LSTM and GRU, and biases
to zero; the hidden-to-hidden weights of an Elman layer with ReLU activation are
initialised He (Kaiming) uniform instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional

from ..errors import ValidationError
from ..model import HyperParameters, Layer, LayerConfiguration, Tensor
from ..model.hyperparameters import LEARNER_TYPES

ACTIVATION_FUNCTIONS = {"relu": torch.relu, "logistic": torch.sigmoid, "tanh": torch.tanh}
# The kind recorded in a LayerConfiguration for each learner type's hidden layers.
HIDDEN_KINDS = {"mlp": "linear", "rnn": "rnn", "lstm": "lstm", "gru": "gru"}

# One layer's parameters: its configuration and (tensor name, parameter) pairs.
LayerParameters = tuple[LayerConfiguration, list[tuple[str, nn.Parameter]]]


class Dropout(nn.Module):
    """Inverted dropout whose masks come from the generator it is given (or the global one).

    Its own generator keeps a learner's training reproducible when other code, or other
    learners in other threads, draw from torch's global generator.
    """

    def __init__(self, p: float, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p = float(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        device = self.generator.device if self.generator is not None else x.device
        draws = torch.rand(x.shape, generator=self.generator, device=device).to(x.device)
        return x * (draws >= self.p) / (1.0 - self.p)


class MLP(nn.Module):
    """Feed-forward network; a window of time steps is flattened into one input vector."""

    learner_type = "mlp"

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        hidden_nodes: list[int],
        activation: str = "relu",
        dropout: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        sizes = [n_inputs, *hidden_nodes]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.output = nn.Linear(sizes[-1], n_outputs)
        self.activation = activation
        self.dropout = Dropout(dropout, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        act = ACTIVATION_FUNCTIONS[self.activation]
        for layer in self.hidden:
            x = self.dropout(act(layer(x)))
        return self.output(x)

    def layer_parameters(self) -> list[LayerParameters]:
        """Return each layer's configuration and named parameters, in order."""
        layers = [
            (
                _configuration(
                    index, "linear", layer.in_features, layer.out_features, self.activation
                ),
                [("weights", layer.weight), ("biases", layer.bias)],
            )
            for index, layer in enumerate(self.hidden)
        ]
        return layers + [_output(len(layers), self.output)]


class ElmanLayer(nn.Module):
    """One Elman recurrent layer: h_t = activation(W x_t + b + W_hh h_(t-1) + b_hh)."""

    def __init__(self, n_inputs: int, n_hidden: int, activation: str) -> None:
        super().__init__()
        self.weight_ih = nn.Parameter(torch.empty(n_hidden, n_inputs))
        self.weight_hh = nn.Parameter(torch.empty(n_hidden, n_hidden))
        self.bias_ih = nn.Parameter(torch.zeros(n_hidden))
        self.bias_hh = nn.Parameter(torch.zeros(n_hidden))
        self.activation = activation
        self.input_size, self.hidden_size = n_inputs, n_hidden

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        act = ACTIVATION_FUNCTIONS[self.activation]
        h = state if state is not None else x.new_zeros(x.shape[0], self.hidden_size)
        inputs = functional.linear(x, self.weight_ih, self.bias_ih)
        outputs = []
        for step in range(x.shape[1]):
            h = act(inputs[:, step] + functional.linear(h, self.weight_hh, self.bias_hh))
            outputs.append(h)
        return torch.stack(outputs, dim=1), h


class _Gated(nn.Module):
    """One LSTM or GRU layer, wrapping torch's single-layer module."""

    def __init__(self, module: nn.LSTM | nn.GRU) -> None:
        super().__init__()
        self.cell = module
        self.input_size, self.hidden_size = module.input_size, module.hidden_size

    def forward(self, x: torch.Tensor, state):
        return self.cell(x, state)


class Recurrent(nn.Module):
    """A stack of recurrent layers; the output layer reads the last time step.

    Truncated back-propagation through time: in a forward pass that records gradients,
    a window of T steps with T > truncate_gradient = k runs its first T - k steps under
    `torch.no_grad()` and the last k steps from the hidden state they reach. Only those
    last k steps carry gradient to the parameters (and to the inputs). Without gradients
    (evaluation) the whole window runs at once; the values are the same.
    """

    learner_type = "rnn"
    kind = "rnn"

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        hidden_nodes: list[int],
        activation: str = "tanh",
        dropout: float = 0.0,
        truncate_gradient: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        sizes = [n_inputs, *hidden_nodes]
        self.activation = activation
        self.recurrent = nn.ModuleList(self._layer(a, b) for a, b in itertools.pairwise(sizes))
        self.output = nn.Linear(sizes[-1], n_outputs)
        self.dropout = Dropout(dropout, generator)
        self.truncate_gradient = truncate_gradient

    def _layer(self, n_inputs: int, n_hidden: int) -> nn.Module:
        return ElmanLayer(n_inputs, n_hidden, self.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, keep = x.shape[1], self.truncate_gradient
        if torch.is_grad_enabled() and keep is not None and keep < steps:
            with torch.no_grad():
                _, states = self._run(x[:, : steps - keep], None)
            outputs, _ = self._run(x[:, steps - keep :], states)
        else:
            outputs, _ = self._run(x, None)
        return self.output(self.dropout(outputs[:, -1]))

    def _run(self, x: torch.Tensor, states: list | None) -> tuple[torch.Tensor, list]:
        reached = []
        for index, layer in enumerate(self.recurrent):
            x, state = layer(x, states[index] if states else None)
            reached.append(state)
            if index < len(self.recurrent) - 1:
                x = self.dropout(x)
        return x, reached

    def layer_parameters(self) -> list[LayerParameters]:
        """Return each layer's configuration and named parameters, in order."""
        layers = []
        for index, layer in enumerate(self.recurrent):
            weights = layer.cell if isinstance(layer, _Gated) else layer
            suffix = "_l0" if isinstance(layer, _Gated) else ""
            configuration = _configuration(
                index, self.kind, layer.input_size, layer.hidden_size, self._layer_activation()
            )
            names = [
                ("weights", f"weight_ih{suffix}"),
                ("weights_hh", f"weight_hh{suffix}"),
                ("biases", f"bias_ih{suffix}"),
                ("biases_hh", f"bias_hh{suffix}"),
            ]
            layers.append((configuration, [(name, getattr(weights, attr)) for name, attr in names]))
        return layers + [_output(len(layers), self.output)]

    def _layer_activation(self) -> str:
        return self.activation


class ElmanRNN(Recurrent):
    """Elman recurrent network; the activation is the hyper-parameter's (relu, logistic, tanh)."""


class LSTM(Recurrent):
    """LSTM network; logistic gates and tanh cell activation, whatever the hyper-parameter."""

    learner_type = "lstm"
    kind = "lstm"

    def _layer(self, n_inputs: int, n_hidden: int) -> nn.Module:
        return _Gated(nn.LSTM(n_inputs, n_hidden, batch_first=True))

    def _layer_activation(self) -> str:
        return "tanh"


class GRU(Recurrent):
    """GRU network; logistic gates and tanh candidate activation, whatever the hyper-parameter."""

    learner_type = "gru"
    kind = "gru"

    def _layer(self, n_inputs: int, n_hidden: int) -> nn.Module:
        return _Gated(nn.GRU(n_inputs, n_hidden, batch_first=True))

    def _layer_activation(self) -> str:
        return "tanh"


LEARNER_CLASSES = {"mlp": MLP, "rnn": ElmanRNN, "lstm": LSTM, "gru": GRU}
# Gate blocks stacked in a recurrent layer's weight matrices.
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def build_learner(
    learner_type: str,
    n_inputs: int,
    n_outputs: int,
    hyper_parameters: HyperParameters,
    *,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Return a freshly initialised learner module.

    `n_inputs` is the width of one input row for an MLP (window x features for a
    sequence) and the number of features per time step for a recurrent learner.
    `generator` drives the initialisation and later the dropout masks; without one,
    torch's global generator does. Dropout (probability `hyper_parameters.dropout`)
    follows every hidden layer when the regularisation is "dropout".
    """
    if learner_type not in LEARNER_CLASSES:
        raise ValidationError("learner_type", learner_type, "one of " + ", ".join(LEARNER_TYPES))
    hp = hyper_parameters
    dropout = hp.dropout if hp.regularisation == "dropout" else 0.0
    if learner_type == "mlp":
        module = MLP(n_inputs, n_outputs, list(hp.hidden_nodes), hp.activation, dropout, generator)
    else:
        module = LEARNER_CLASSES[learner_type](
            n_inputs,
            n_outputs,
            list(hp.hidden_nodes),
            hp.activation,
            dropout,
            hp.truncate_gradient,
            generator,
        )
    initialise(module, generator)
    return module


def initialise(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """Set `module`'s weights Glorot uniform (He for Elman ReLU hidden-to-hidden), biases zero."""
    gates = GATES.get(getattr(module, "kind", ""), 1)
    relu_elman = isinstance(module, ElmanRNN) and module.activation == "relu"
    with torch.no_grad():
        for configuration, parameters in module.layer_parameters():
            blocks = gates if configuration.kind in GATES else 1
            for name, parameter in parameters:
                if name.startswith("biases"):
                    parameter.zero_()
                elif name == "weights_hh" and relu_elman:
                    nn.init.kaiming_uniform_(parameter, nonlinearity="relu", generator=generator)
                else:
                    for block in parameter.chunk(blocks, dim=0):
                        nn.init.xavier_uniform_(block, generator=generator)


def layer_configurations(module: nn.Module) -> list[LayerConfiguration]:
    """Return the configuration of each of `module`'s layers, hidden layers first."""
    return [configuration for configuration, _ in module.layer_parameters()]


def layers_of(module: nn.Module) -> list[Layer]:
    """Return `module`'s layers with copies of their current weights and biases."""
    return [
        Layer(configuration, [Tensor.from_torch(name, parameter) for name, parameter in parameters])
        for configuration, parameters in module.layer_parameters()
    ]


def load_layers(module: nn.Module, layers: list[Layer]) -> None:
    """Write the values of `layers` into `module`'s parameters, bit for bit."""
    by_label = {layer.configuration.label: layer for layer in layers}
    with torch.no_grad():
        for configuration, parameters in module.layer_parameters():
            layer = by_label.get(configuration.label)
            if layer is None:
                raise ValidationError(
                    "layers", configuration.label, "layers: " + ", ".join(by_label)
                )
            for name, parameter in parameters:
                tensor = layer.tensor(name)
                field = f"layers.{configuration.label}.{name}"
                if tensor is None or not tensor.loaded:
                    raise ValidationError(
                        field, None if tensor is None else "no values", "a tensor with values"
                    )
                if tensor.shape != tuple(parameter.shape):
                    raise ValidationError(
                        field, list(tensor.shape), f"shape {list(parameter.shape)}"
                    )
                values = torch.from_numpy(tensor.to_numpy().copy())
                parameter.copy_(values.to(device=parameter.device, dtype=parameter.dtype))


def weights(module: nn.Module) -> Iterator[nn.Parameter]:
    """Yield the weight matrices of `module` (not the biases): what L1 and L2 penalise."""
    for _, parameters in module.layer_parameters():
        for name, parameter in parameters:
            if name.startswith("weights"):
                yield parameter


def _configuration(
    index: int, kind: str, inputs: int, outputs: int, activation: str | None
) -> LayerConfiguration:
    return LayerConfiguration(
        index=index,
        label=f"hidden_{index}",
        kind=kind,
        inputs=inputs,
        outputs=outputs,
        activation=activation,
    )


def _output(index: int, layer: nn.Linear) -> LayerParameters:
    configuration = LayerConfiguration(
        index=index,
        label="output",
        kind="linear",
        inputs=layer.in_features,
        outputs=layer.out_features,
    )
    return configuration, [("weights", layer.weight), ("biases", layer.bias)]
