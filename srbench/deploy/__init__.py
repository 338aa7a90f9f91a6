"""Deployed models: int8 quantisation and ONNX export/runtime."""
