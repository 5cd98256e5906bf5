"""Trained checkpoints written in formats that run without emomtl's training stack (ONNX)."""
