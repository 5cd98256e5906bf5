"""emomtl: multi-task, multimodal speech emotion recognition with dynamic loss weighting.

The package folders follow the data flow::

    data -> features -> models -> weighting -> training -> evaluation -> reports / cli
"""

__version__ = "0.1.0"
