"""The two heads on the network, softmax and SVM: their names and how each one's class probabilities come
about, from the skops SVM or from the exported SVM's scores. Both `export` and `apply` use this folder."""
