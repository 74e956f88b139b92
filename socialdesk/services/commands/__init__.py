"""The command layer (see ARCHITECTURE.md, "Commands, routes, leases"): every change a person
makes, with who makes it (Actor) and what it acts on (Selection)."""

from socialdesk.store.views import Selection

from .actions import Assign, CloseNoise, DeskSettings, Note, Reopen, Resolve, SetPriority, Tag, Untag
from .actor import Actor, Refused
from .customers import EditCustomer, LinkIdentity, MergeNeeded, UnlinkIdentity
from .layer import Command, CommandLayer, Outcome, describe
from .replies import Approve, HoldingReply, Reply, ReplyRejected, ReplyRules
from .routes import ChannelLimits, ReplyRoute, default_route, email_route, real_address, route_problem, routes_for

__all__ = [
    "Actor", "Approve", "Assign", "ChannelLimits", "CloseNoise", "Command", "CommandLayer", "DeskSettings",
    "EditCustomer", "HoldingReply", "LinkIdentity", "MergeNeeded", "Note", "UnlinkIdentity", "Outcome", "Refused", "Reopen", "Reply", "ReplyRejected", "ReplyRules", "Resolve",
    "ReplyRoute", "Selection", "SetPriority", "Tag", "Untag", "default_route", "describe", "email_route",
    "real_address", "route_problem", "routes_for",
]
