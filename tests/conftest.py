# Before any test module imports TensorFlow (see the function's docstring).
from ferpipe.nn.backend import load_torch_before_tensorflow

load_torch_before_tensorflow()
