"""Evaluation on test: classification metrics, prediction files, the softmax head, the softmax-vs-SVM comparison and their plots."""
