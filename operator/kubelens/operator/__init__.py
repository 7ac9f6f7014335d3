"""The kopf operator: Investigation handlers and the services behind them.

Handlers live in :mod:`kubelens.operator.handlers` (``kopf run -m
kubelens.operator.handlers``); this package imports nothing on purpose, so importing a
service does not register handlers.
"""
