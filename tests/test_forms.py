"""Submissions of every Wagtail form page class become form_submitted events."""

import pytest

from wagtail_journeys.models import Contact, Event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page_fixture", ["signup_page", "enquiry_page"])
def test_submission_is_recorded_and_identifies_the_visitor(client, request, page_fixture):
    page = request.getfixturevalue(page_fixture)
    client.get(page.url)  # an anonymous visit first
    anonymous = Contact.objects.get()

    response = client.post(page.url, {"email": "Ada@Example.com", "name": "Ada"})
    assert response.status_code == 200
    assert b"Thanks" in response.content

    event = Event.objects.get(name="form_submitted")
    assert event.properties["form_page_id"] == page.pk
    assert event.properties["form_page_type"] == page._meta.label_lower
    assert event.properties["fields"]["email"] == "Ada@Example.com"
    assert event.page_id == page.pk
    assert event.source == "form"
    contact = event.contact
    assert contact.email == "ada@example.com"
    # The anonymous visitor became the known contact; the earlier view is theirs.
    assert contact.pk == anonymous.pk
    assert contact.events.filter(name="page_viewed").count() == 1
    assert contact.events.filter(name="contact_identified").count() == 1


def test_submission_merges_into_an_existing_contact(client, signup_page):
    known = Contact.objects.create(email="ada@example.com", first_name="Ada")
    client.get(signup_page.url)
    client.post(signup_page.url, {"email": "ada@example.com"})
    assert list(Contact.objects.all()) == [known]
    assert set(known.events.values_list("name", flat=True)) == {
        "page_viewed",
        "contact_identified",
        "form_submitted",
    }


def test_invalid_submission_records_nothing(client, signup_page):
    response = client.post(signup_page.url, {"email": "not an email"})
    assert response.status_code == 200
    assert not Event.objects.filter(name="form_submitted").exists()


def test_submission_created_outside_a_request_is_not_attributed(signup_page):
    signup_page.get_submission_class().objects.create(
        page=signup_page, form_data={"email": "shell@example.com"}
    )
    assert not Event.objects.exists()
    assert not Contact.objects.exists()
