"""The live session: frames from a source through the pose engine and a program to feedback.

``pipeline`` (threads, queues, stats), ``runner`` (one session assembled from the parts),
``sinks`` (poses file, overlay video) and ``render`` (the overlay of one result).
"""
