"""The call policy every vendor call goes through (see `policy`), one small module per link."""

from connectors.policy.deadline import Deadline
from connectors.policy.policy import CallPolicy
from connectors.policy.scope import CallLog, CallRecord, CallScope

__all__ = ["CallLog", "CallPolicy", "CallRecord", "CallScope", "Deadline"]
