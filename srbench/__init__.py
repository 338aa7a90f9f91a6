"""srbench: faithful, fast, reproducible evaluation of single-image super-resolution models.

Public API (imported lazily, so ``import srbench`` stays light)::

    srbench.evaluate(model, dataset, scale, ...)    # a zoo name, card file, module, callable, ...
    srbench.score(sr_dir, dataset, scale, ...)      # a folder of precomputed SR images
    srbench.compute(metric, sr, hr=None, ...)       # one metric on one image
    srbench.create_model(name, scale, ...)          # a zoo model as a torch module
    srbench.compare(result_a, result_b, ...)        # paired significance of two results on the same images
"""

__version__ = "0.2.0"

_API = {"evaluate": "srbench.eval.driver", "make_plan": "srbench.eval.plan", "score": "srbench.eval.score",
        "compute": "srbench.eval.compute", "create_model": "srbench.models.builder",
        "compare": "srbench.report.significance"}

__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'srbench' has no attribute '{name}'")
