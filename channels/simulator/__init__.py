"""The SMSC simulator: an SMPP 3.4 server with TPS limits, receipts, MO injection and faults.

In a test (port 0: any free port; tiny delays; await events, never sleep)::

    async with Simulator(SimulatorConfig(port=0, control_port=None, receipt_delay_s=0.01)) as smsc:
        ...  # bind an ESME to 127.0.0.1:smsc.port, send
        async with asyncio.timeout(5):
            await smsc.wait_submits(1)
        smsc.submits[0].destination_addr
        await smsc.inject_mo("+5016012345", "JOIN HEALTH")
        smsc.reply_next(Status.ESME_RTHROTTLED)   # or hang(), drop_links(), send_malformed(),
                                                  # unbind_all(), receipt_before_response = True

Standalone (``smsgw simulator``, the demo): ``await run_simulator(config)``, with the HTTP
control API of channels/simulator/control.py on ``control_port``.

Modules: config (SimulatorConfig), server (Simulator, run_simulator), session and link (one
ESME connection), receipts and receipt_pdu (delivery receipts), mo (MO deliver_sm), faults
(malformed PDUs), records (the submit log), state (what is shared and awaited), control.
"""

from .config import SimulatorConfig
from .faults import MALFORMED_KINDS
from .records import Submit
from .server import Simulator, run_simulator
from .state import NoReceiverError, SimulatorStoppedError

__all__ = [
    "MALFORMED_KINDS",
    "NoReceiverError",
    "Simulator",
    "SimulatorConfig",
    "SimulatorStoppedError",
    "Submit",
    "run_simulator",
]
