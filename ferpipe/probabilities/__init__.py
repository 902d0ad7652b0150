"""Class probabilities of the two heads on the network, softmax and SVM: their names and how each one's
probabilities come about, from the skops SVM or from the exported SVM's scores. Both `export` and `apply`
use this folder. A head is one of these two outputs; the loaded network with its SVM that gives them is a
classifier (`ferpipe.apply.keras_classifier`, `ferpipe.apply.onnx_classifier`)."""
