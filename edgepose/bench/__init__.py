"""Measurements of speed: model invoke times, frame costs and pipeline throughput (``engine``),
and the cost of multi-person analysis against the number of people in view (``analyze``)."""
