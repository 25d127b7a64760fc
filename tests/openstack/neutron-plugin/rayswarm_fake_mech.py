"""An ML2 mechanism driver for a test control plane without data-plane agents.

Neutron binds a port only when a mechanism driver accepts it; the real drivers (openvswitch,
linuxbridge, ...) wait for an agent on the port's host, and there is none here: nova's
compute hosts are fake. This driver binds every port on its first segment as an OVS port and
marks it ACTIVE, which is all nova's fake driver needs to bring a server up.
"""
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class FakeBindMechanismDriver(api.MechanismDriver):
    def initialize(self):
        pass

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False},
                status="ACTIVE",
            )
            return
