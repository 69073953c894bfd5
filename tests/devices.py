"""The devices a device-dependent test runs on: always the CPU, and CUDA where a GPU is visible (CI has none;
these cases run when the suite is run on a GPU machine)."""

import torch

DEVICES = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
