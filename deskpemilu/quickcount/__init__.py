"""The desk's quick count (hitung cepat): sample design, estimators, accuracy harness."""
