"""Evaluation: classification metrics, the softmax head's test predictions, and (next) embeddings, the SVM and the softmax-vs-SVM comparison."""
