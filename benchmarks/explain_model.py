"""What torch_fuser does with a frozen torchvision model: explain()'s report (groups,
kernels, launches, fallbacks with their reasons, nodes left to eager and why), then the
time per call with and without torch_fuser in this process.

    python3 benchmarks/explain_model.py efficientnet_b0 [--device cuda] [--dtype float16]
        [--channels-last] [--batch 32]
"""
import argparse
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--calls", type=int, default=20)
    args = p.parse_args()

    import torchvision
    import torch_fuser

    dtype = getattr(torch, args.dtype)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    batch = args.batch or (32 if args.device.startswith("cuda") else 4)
    model = getattr(torchvision.models, args.model)().eval().to(args.device, dtype)
    model = model.to(memory_format=fmt)
    x = torch.randn(batch, 3, 224, 224, device=args.device).to(dtype).contiguous(memory_format=fmt)
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.script(model))
        print(torch_fuser.explain(frozen, x))

        def per_call():
            for _ in range(3):
                frozen(x)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(args.calls):
                frozen(x)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            return (time.perf_counter() - start) / args.calls * 1e3

        before = torch_fuser.stats()
        fused_ms = per_call()
        after = torch_fuser.stats()
        print(f"torch_fuser: {fused_ms:.2f} ms per call; per call: "
              f"{(after['kernel_launches'] - before['kernel_launches']) / (args.calls + 3):.1f} "
              f"kernels, {(after['fallbacks'] - before['fallbacks']) / (args.calls + 3):.1f} fallbacks")


if __name__ == "__main__":
    main()
