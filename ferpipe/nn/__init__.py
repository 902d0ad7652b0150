"""Networks (ResNet-50, the paper's LeNet) in Keras 3: backend choice, training config, models, the training loop, checkpoints, the saved-model folder, live curves."""
