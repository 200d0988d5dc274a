"""What the test folders share: loopback fake servers, the proxy guard, shared builders.

Importable as ``support`` (``pythonpath = ["tests"]`` in the pytest configuration), so no
test module is loaded by path.
"""
