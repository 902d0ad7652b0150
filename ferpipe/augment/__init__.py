"""Stage `augment`: the paper's 12x augmentation of the training split only."""
