"""The ports: what the coordinator needs from the world, each protocol beside its
implementations.

A port is a protocol the tool loop talks through, so the same loop runs wherever its
notifications and skills live. :mod:`~kubelens.ports.notifications` holds
``NotificationStore``, :mod:`~kubelens.ports.operators` holds ``Operators`` (and
``CompositeOperators``, several as one), :mod:`~kubelens.ports.agents` the operator side
of the node agents. ``kubelens investigate`` and replay use ``InMemoryNotificationStore``
with ``InProcessOperators``; the operator uses ``NotificationResources`` with
``CompositeOperators`` over ``InProcessOperators`` (cluster skills) and
``AgentOperators`` (node skills on the agents, over HTTP). The node agent uses no port:
it runs its skills itself and writes Notifications with
:func:`kubelens.notifications.publish`. This package's ``__init__`` imports nothing, so
importing one port never loads another's dependencies (the kubernetes client).
"""
