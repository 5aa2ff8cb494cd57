"""The call policy every vendor call goes through (see `core`)."""

from connectors.policy.calllog import CallLog, CallRecord
from connectors.policy.core import CallPolicy, CallScope
from connectors.policy.deadline import Deadline

__all__ = ["CallLog", "CallPolicy", "CallRecord", "CallScope", "Deadline"]
