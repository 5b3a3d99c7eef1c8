"""Benchmarks of dgmlib against the libraries students would otherwise use (issue #9).

``python -m benchmarks`` (``make bench``) runs five sections and writes
``benchmarks/results/<machine>.md`` and ``.json``; ``--quick`` runs the same code on tiny sizes in
seconds (the test suite's smoke run). Peers: zuko, normflows, POT, scipy (the ``bench`` extra).
"""
