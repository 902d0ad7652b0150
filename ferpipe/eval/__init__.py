"""Evaluation: classification metrics, test predictions, the deep features (embed), the RBF SVM on them, and the softmax-vs-SVM comparison."""
