"""ferpipe: facial expression recognition pipeline (MTCNN -> ResNet-50 features -> RBF SVM)."""
