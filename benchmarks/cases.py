"""The benchmark cases: real pointwise blocks, each a function plus an input builder.

Kept in a real .py file: TorchScript (torch 2.x) reads function sources from disk."""
import torch


def chain(x, y, z):
    return torch.sigmoid(x * y + z).tanh() * 0.5 + torch.relu(x)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def swish(x):
    return x * torch.sigmoid(x)


def bias_residual_relu(x, bias, residual):
    return torch.relu(x + bias + residual)


def lstm_tail(gates, cx):
    ingate, forgetgate, cellgate, outgate = gates.chunk(4, 1)
    i = torch.sigmoid(ingate)
    f = torch.sigmoid(forgetgate)
    g = torch.tanh(cellgate)
    o = torch.sigmoid(outgate)
    cy = f * cx + i * g
    hy = o * torch.tanh(cy)
    return hy, cy


def layernorm_tail(x, mean, rstd, weight, bias):
    return (x - mean) * rstd * weight + bias


def dropout(x, mask, scale: float):
    return x * mask * scale


def cat_features(x, y):
    # Two activations side by side along the feature dim: the kernel writes each as a
    # strided slice of the result.
    return torch.cat([torch.sigmoid(x) * y, torch.tanh(y) + x], 1)


COLUMNS = 1024


def _rows(numel):
    return max(numel // COLUMNS, 1)


def make_inputs(name, numel, dtype, device):
    """Inputs of `name` with `numel` elements per full-size tensor."""
    rows = _rows(numel)
    full = lambda: torch.randn(rows, COLUMNS, dtype=dtype, device=device)  # noqa: E731
    if name == "chain":
        return (full(), full(), full())
    if name == "cat_features":
        return (full(), full())
    if name in ("gelu_tanh", "swish"):
        return (full(),)
    if name == "bias_residual_relu":
        return (full(), torch.randn(COLUMNS, dtype=dtype, device=device), full())
    if name == "lstm_tail":  # gates hold 4 × the cell's elements, split by chunk(4, 1)
        return (torch.randn(rows, 4 * COLUMNS, dtype=dtype, device=device), full())
    if name == "layernorm_tail":
        return (full(), torch.randn(rows, 1, dtype=dtype, device=device),
                torch.rand(rows, 1, dtype=dtype, device=device) + 0.5,
                torch.randn(COLUMNS, dtype=dtype, device=device),
                torch.randn(COLUMNS, dtype=dtype, device=device))
    if name == "dropout":
        return (full(), (torch.rand(rows, COLUMNS, device=device) > 0.1).to(dtype), 1.0 / 0.9)
    raise KeyError(name)


CASES = {
    "chain": chain,
    "gelu_tanh": gelu_tanh,
    "swish": swish,
    "bias_residual_relu": bias_residual_relu,
    "lstm_tail": lstm_tail,
    "layernorm_tail": layernorm_tail,
    "dropout": dropout,
    "cat_features": cat_features,
}


def bytes_moved(inputs, outputs):
    """Bytes a perfect kernel reads and writes: every tensor input and output once."""
    tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    return sum(t.numel() * t.element_size() for t in tensors + list(outs))
