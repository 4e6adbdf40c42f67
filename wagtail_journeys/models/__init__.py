from wagtail_journeys.models.branding import EmailBrandSettings
from wagtail_journeys.models.channels import PushSubscription, PushTemplate, SmsTemplate
from wagtail_journeys.models.commerce import Cart, CartItem, Wishlist, WishlistItem
from wagtail_journeys.models.contacts import Contact, ContactTag, EmailFrequency
from wagtail_journeys.models.events import BeaconBatch, Event, PendingDispatch
from wagtail_journeys.models.imports import SegmentImport
from wagtail_journeys.models.journeys import Enrollment, Journey, StepRun
from wagtail_journeys.models.messages import (
    ConsentRecord,
    DiscountCode,
    EmailTemplate,
    Kind,
    Message,
    MessageEvent,
    SignupForm,
    Topic,
)
from wagtail_journeys.models.segments import Segment, SegmentMembership
from wagtail_journeys.models.stats import ABDecision, DailyStat

__all__ = [
    "ABDecision",
    "BeaconBatch",
    "Cart",
    "CartItem",
    "ConsentRecord",
    "Contact",
    "ContactTag",
    "DailyStat",
    "DiscountCode",
    "EmailBrandSettings",
    "EmailFrequency",
    "EmailTemplate",
    "Enrollment",
    "Event",
    "Journey",
    "Kind",
    "Message",
    "MessageEvent",
    "PendingDispatch",
    "PushSubscription",
    "PushTemplate",
    "Segment",
    "SegmentImport",
    "SegmentMembership",
    "SignupForm",
    "SmsTemplate",
    "StepRun",
    "Topic",
    "Wishlist",
    "WishlistItem",
]
