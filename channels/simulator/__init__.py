"""The SMSC simulator: an SMPP 3.4 server with TPS limits, receipts, MO injection and faults.

async with Simulator(SimulatorConfig(port=0, control_port=None)) as smsc:
    ...  # connect an ESME to 127.0.0.1:smsc.port
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
