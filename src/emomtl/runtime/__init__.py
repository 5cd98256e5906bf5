"""What training and inference share: batching and standardisation, checkpoint I/O, the forward pass over rows,
and the :class:`InferenceBundle` that training writes and the recognizer reads. Imports neither of them."""
