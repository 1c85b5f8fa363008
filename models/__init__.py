"""All models, imported here so Alembic and the app see every table."""

from models.accounts import ROLES, Membership, Organization, OrgRef, User, normalize_email
from models.analytics import CallRollup, NodeRollup
from models.base import OrgScoped, new_uid, utcnow
from models.calls import CallSession, CallStep, CallTurn, FlowExecution, Message, Payment, Recording
from models.flows import Flow, FlowRevision, FlowTestCase
from models.phone import PhoneIntent, PhoneNumber, SoftphonePresence, phone_number_user
from models.security import RateLimitCounter
from models.timers import Timer
from models.upstream import UpstreamIntegration

__all__ = [
    "ROLES",
    "CallRollup",
    "CallSession",
    "CallStep",
    "CallTurn",
    "Flow",
    "FlowExecution",
    "FlowRevision",
    "FlowTestCase",
    "Membership",
    "Message",
    "NodeRollup",
    "OrgScoped",
    "Organization",
    "OrgRef",
    "Payment",
    "PhoneIntent",
    "PhoneNumber",
    "RateLimitCounter",
    "Recording",
    "SoftphonePresence",
    "Timer",
    "UpstreamIntegration",
    "User",
    "new_uid",
    "normalize_email",
    "phone_number_user",
    "utcnow",
]
