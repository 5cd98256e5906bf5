"""Architectures and task heads. Models return ``dict[task_name, Tensor]`` and never weight losses."""
