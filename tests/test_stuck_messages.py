"""Messages stuck in ``sending`` in the admin: the log's filter, their page, the dashboard."""

import re
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from django.urls import reverse
from django.utils import timezone

from tests.admin_helpers import client_for
from wagtail_journeys.email.delivery import stuck_messages
from wagtail_journeys.models import Message

pytestmark = pytest.mark.django_db

HOME = reverse("wagtailadmin_home")
PANEL = "[data-panel=journeys-stuck-messages]"


def sending(n, minutes, **fields):
    """A message handed to the provider ``minutes`` ago whose outcome was never written."""
    at = timezone.now() - timedelta(minutes=minutes)
    return Message.objects.create(
        idempotency_key=f"stuck-{n}",
        subject=f"Message {n}",
        to_email=f"person{n}@example.com",
        status=Message.Status.SENDING,
        sending_at=at,
        handed_at=at,
        **fields,
    )


def listed(client, query=""):
    response = client.get(reverse("journeys_messages:index_results") + query)
    assert response.status_code == 200
    page = response.content.decode()
    return set(re.findall(r"Message \d+", page)), page


def panel_text(client):
    """The words of the stuck-messages panel on the dashboard, or None when it is not there."""
    response = client.get(HOME)
    assert response.status_code == 200
    panel = BeautifulSoup(response.content, "html.parser").select_one(PANEL)
    return None if panel is None else " ".join(panel.get_text(" ").split())


def words(html: str) -> str:
    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())


@pytest.fixture
def messages():
    """One message stuck for 20 minutes, one claimed a minute ago, one sent, one queued."""
    stuck = sending(1, minutes=20)
    fresh = sending(2, minutes=1)
    Message.objects.create(idempotency_key="sent", subject="Message 3", status="sent")
    Message.objects.create(idempotency_key="queued", subject="Message 4")
    return stuck, fresh


# The message log's filter


def test_the_stuck_filter_lists_only_messages_sending_for_more_than_15_minutes(
    admin_client, messages
):
    stuck, _fresh = messages
    assert listed(admin_client)[0] == {"Message 1", "Message 2", "Message 3", "Message 4"}
    assert listed(admin_client, "?stuck=yes")[0] == {"Message 1"}
    # The same definition as the command's: stuck_messages().
    assert list(stuck_messages()) == [stuck]
    assert listed(admin_client, "?stuck=yes&status=sending")[0] == {"Message 1"}
    assert listed(admin_client, "?stuck=yes&status=queued")[0] == set()
    # Empty means all.
    assert len(listed(admin_client, "?stuck=")[0]) == 4


def test_the_stuck_filter_is_offered_with_its_meaning(admin_client):
    page = admin_client.get(reverse("journeys_messages:index")).content.decode()
    assert 'name="stuck"' in page
    assert "Sending for more than 15 minutes" in page


@pytest.mark.parametrize("value", ["maybe", "true", "1"])
def test_a_bad_stuck_value_lists_nothing_and_says_why(admin_client, messages, value):
    shown, page = listed(admin_client, f"?stuck={value}")
    assert shown == set()
    assert "These filters cannot be applied." in page
    assert "Stuck: Select a valid choice." in page
    assert (
        admin_client.get(reverse("journeys_messages:index") + f"?stuck={value}").status_code == 200
    )


# A message's page


def test_a_stuck_messages_page_says_what_happened_and_what_to_do(admin_client, messages):
    stuck, _fresh = messages
    response = admin_client.get(reverse("journeys_messages:inspect", args=[stuck.pk]))
    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    warning = soup.select_one("#stuck")
    assert warning is not None and warning["data-stuck-message"] == str(stuck.pk)
    text = " ".join(warning.get_text(" ").split())
    assert "This message has been sending for more than 15 minutes" in text
    assert "never sent again automatically" in text
    assert f"journeys_message_id = {stuck.pk}" in text
    assert "If the provider has it, it was delivered and must not be sent again" in text
    assert "no action to mark a message sent or to send it again" in text


def test_a_stuck_sms_points_at_the_sms_providers_log(admin_client):
    sms = sending(5, minutes=30, channel=Message.Channel.SMS, to_phone="+15555550100")
    page = admin_client.get(reverse("journeys_messages:inspect", args=[sms.pk])).content.decode()
    text = words(page)
    assert "This message has been sending for more than 15 minutes" in text
    assert f"message_id = {sms.pk}" in text
    assert "journeys_message_id" not in text


def test_a_message_sending_for_a_minute_has_no_warning(admin_client, messages):
    _stuck, fresh = messages
    response = admin_client.get(reverse("journeys_messages:inspect", args=[fresh.pk]))
    assert response.status_code == 200
    assert b'id="stuck"' not in response.content
    assert "has been sending for more than" not in words(response.content.decode())


# The dashboard


def test_the_dashboard_warns_of_stuck_messages_and_links_to_them(admin_client, messages):
    text = panel_text(admin_client)
    assert text is not None
    assert "1 message has been sending for more than 15 minutes" in text
    soup = BeautifulSoup(admin_client.get(HOME).content, "html.parser")
    link = soup.select_one(f"{PANEL} a")["href"]
    assert link == reverse("journeys_messages:index") + "?stuck=yes"
    # The link lists the stuck message and nothing else.
    assert listed(admin_client, "?" + link.split("?", 1)[1])[0] == {"Message 1"}

    sending(6, minutes=16)
    assert "2 messages have been sending for more than 15 minutes" in panel_text(admin_client)


def test_no_panel_while_no_message_is_stuck(admin_client):
    sending(1, minutes=1)
    Message.objects.create(idempotency_key="old-sent", subject="Message 2", status="sent")
    assert panel_text(admin_client) is None


def test_the_panel_needs_the_permission_to_view_messages(messages):
    assert panel_text(client_for()) is None
    assert panel_text(client_for("change_journey")) is None
    text = panel_text(client_for("view_message"))
    assert text is not None and "1 message has been sending" in text
