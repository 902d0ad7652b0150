"""Stage `faces`: MTCNN detection, the face crop, and the detection report."""
