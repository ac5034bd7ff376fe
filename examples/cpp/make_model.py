"""Saves the model run_model.cpp loads: a scripted block (linear, then an elementwise
tail torch_fuser fuses) with an example input and eager's output on it as attributes.

    python3 examples/cpp/make_model.py model.pt
"""
import sys

import torch


class Block(torch.nn.Module):
    def __init__(self, width=256):
        super().__init__()
        self.linear = torch.nn.Linear(width, width)
        self.register_buffer("example_input", torch.randn(64, width))
        self.register_buffer("expected_output", torch.empty(0))

    def forward(self, x):
        h = self.linear(x)
        return torch.sigmoid(h) * torch.tanh(h) + 0.5 * h


def main(path):
    torch.manual_seed(0)
    block = Block().eval()
    with torch.no_grad():
        block.expected_output = block(block.example_input)
    torch.jit.save(torch.jit.script(block), path)


if __name__ == "__main__":
    main(sys.argv[1])
