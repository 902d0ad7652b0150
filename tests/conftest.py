# torch (via torchvision/triton) must be imported before tensorflow in one process, or it segfaults.
import torch  # noqa: F401
