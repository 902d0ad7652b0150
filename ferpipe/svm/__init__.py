"""The RBF SVM on the deep features: its (C, gamma) grid chosen on val (`svm` stage), and the saved model."""
