"""``emomtl serve``: a web page and a JSON API that run a trained model on uploaded or recorded audio."""
