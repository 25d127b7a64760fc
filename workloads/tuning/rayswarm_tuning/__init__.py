"""rayswarm tuning workload: search on Ray, ONNX export, model card and promotion gate.

Keep this file free of imports: `rayswarm_tuning.gate` runs on production hosts with only
numpy + onnxruntime installed, and importing the package must not pull in ray or sklearn.
"""

__version__ = "0.1.0"
