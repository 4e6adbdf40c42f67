"""Segments in the admin: editing with a live preview, exporting, refreshing, importing."""

from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from wagtail.test.utils.form_data import nested_form_data, streamfield

from tests.admin_helpers import client_for
from tests.factories import ContactFactory
from wagtail_journeys.models import (
    Contact,
    ContactTag,
    Event,
    Segment,
    SegmentImport,
    SegmentMembership,
)
from wagtail_journeys.segments import import_files, imports

pytestmark = pytest.mark.django_db

SEGMENT_PERMISSIONS = ("add_segment", "change_segment", "view_segment")


def url(name, *args):
    return reverse(f"journeys_segments:{name}", args=args)


def event_rule(event="order_completed", **values):
    return (
        "event",
        {
            "comparison": "at_least",
            "count": "1",
            "period": "last_days",
            "days": "30",
            "start": "",
            "end": "",
            "event": event,
            "filters": {"count": "0"},
            **values,
        },
    )


def status_rule(*statuses):
    # A tuple: posted as one field with several values, as the multiple select sends it.
    return ("status", {"statuses": statuses})


def form_data(rules=(), **fields):
    data = {"name": "Buyers", "description": "", "kind": "dynamic", "match": "all", **fields}
    return nested_form_data({**data, "rules": streamfield(list(rules))})


def messages_of(response):
    return [str(message).strip() for message in get_messages(response.wsgi_request)]


def static_segment(name="Newsletter list", *contacts):
    segment = Segment.objects.create(name=name, kind=Segment.Kind.STATIC)
    for contact in contacts:
        SegmentMembership.objects.create(segment=segment, contact=contact)
    return segment


# Editing


def test_a_dynamic_segment_is_created_with_its_rule(admin_client):
    response = admin_client.post(url("add"), form_data([event_rule()]))
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.name == "Buyers" and segment.is_dynamic
    assert [child.block_type for child in segment.rules] == ["event"]
    assert segment.rules[0].value["event"] == "order_completed"
    assert segment.depends_on == ["order_completed"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (event_rule("bad name!"), "must be letters, digits and underscores"),
        (
            (
                "cart",
                {
                    "condition": "value",
                    "hours": "",
                    "days": "",
                    "at_least": "100",
                    "at_most": "20",
                },
            ),
            "The upper bound is below the lower one",
        ),
    ],
)
def test_a_bad_rule_is_refused_with_its_error(admin_client, rule, message):
    response = admin_client.post(url("add"), form_data([rule]))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Segment.objects.exists()


def test_the_listing_shows_counts_and_searches_by_name(admin_client):
    static_segment("Newsletter list", ContactFactory(), ContactFactory())
    Segment.objects.filter(name="Newsletter list").update(member_count=2)
    Segment.objects.create(name="Buyers", rules=[status_rule("subscribed")])
    content = admin_client.get(url("list")).content.decode()
    assert "Newsletter list" in content and "Buyers" in content
    assert "Static list" in content
    found = admin_client.get(url("list"), {"q": "newsletter"}).content.decode()
    assert "Newsletter list" in found and "Buyers" not in found


def test_the_live_preview_counts_the_matching_contacts(admin_client):
    ContactFactory(status="subscribed")
    ContactFactory(status="subscribed")
    ContactFactory(status="pending")
    data = form_data([status_rule("subscribed")])

    response = admin_client.post(url("preview_on_add"), data)
    assert response.json() == {"is_valid": True, "is_available": True}
    preview = admin_client.get(url("preview_on_add")).content.decode()
    assert 'data-count="2"' in preview
    assert "2 contacts match" in preview

    # A static list previews its stored members.
    listed = static_segment("Listed", ContactFactory())
    data = form_data(name="Listed", kind="static")
    assert admin_client.post(url("preview_on_edit", listed.pk), data).json()["is_valid"]
    preview = admin_client.get(url("preview_on_edit", listed.pk)).content.decode()
    assert 'data-count="1"' in preview


def test_an_existing_dynamic_segment_is_edited_with_a_live_preview(admin_client):
    ContactFactory(status="subscribed")
    ContactFactory(status="pending")
    segment = Segment.objects.create(name="Subscribers", rules=[status_rule("subscribed")])
    data = form_data([status_rule("subscribed", "pending")], name="Subscribers")
    assert admin_client.post(url("preview_on_edit", segment.pk), data).json()["is_valid"]
    preview = admin_client.get(url("preview_on_edit", segment.pk)).content.decode()
    assert 'data-count="2"' in preview
    assert admin_client.post(url("edit", segment.pk), data).status_code == 302
    segment.refresh_from_db()
    assert list(segment.rules[0].value["statuses"]) == ["subscribed", "pending"]


# Export


def test_export_streams_the_members_with_formulas_defused(admin_client):
    ada = ContactFactory(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    mallory = ContactFactory(email="mallory@example.com", first_name='=HYPERLINK("x")')
    segment = static_segment("List", ada, mallory)
    ContactFactory(email="outsider@example.com")

    response = admin_client.get(url("export_members", segment.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="segment-list-members.csv"' in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "email,first_name,last_name,status,added_at"
    assert lines[1].startswith("ada@example.com,Ada,Lovelace,pending,")
    assert lines[2].startswith('mallory@example.com,"\'=HYPERLINK(""x"")",,pending,')
    assert len(lines) == 3


def test_export_needs_the_contact_export_permission():
    segment = static_segment("List", ContactFactory(email="ada@example.com"))
    client = client_for(*SEGMENT_PERMISSIONS)
    response = client.get(url("export_members", segment.pk))
    assert response.status_code in (302, 403)
    assert b"ada@example.com" not in b"".join(getattr(response, "streaming_content", [b""]))
    assert "Export members" not in client.get(url("list")).content.decode()

    # Export permission without the right to change segments is not enough either.
    assert client_for("export_contact").get(url("export_members", segment.pk)).status_code in (
        302,
        403,
    )

    allowed = client_for(*SEGMENT_PERMISSIONS, "export_contact")
    assert "Export members" in allowed.get(url("list")).content.decode()
    response = allowed.get(url("export_members", segment.pk))
    assert b"ada@example.com" in b"".join(response.streaming_content)


# Refresh now


def test_refresh_now_recomputes_the_members_and_says_what_changed(admin_client):
    buyer = ContactFactory(status="subscribed")
    ContactFactory(status="pending")
    segment = Segment.objects.create(name="Subscribers", rules=[status_rule("subscribed")])

    confirm = admin_client.get(url("refresh", segment.pk), {"next": url("list")})
    assert confirm.status_code == 200
    assert "Refresh now" in confirm.content.decode()

    response = admin_client.post(url("refresh", segment.pk), {"next": url("list")})
    assert response.status_code == 302 and response.url == url("list")
    assert messages_of(response) == ["“Subscribers” refreshed: 1 entered, 0 left, 1 members now."]
    assert list(segment.memberships.values_list("contact_id", flat=True)) == [buyer.pk]
    segment.refresh_from_db()
    assert segment.member_count == 1 and segment.refreshed_at is not None

    # Off-site "next" URLs are ignored: back to the segment.
    response = admin_client.post(url("refresh", segment.pk), {"next": "https://evil.example/"})
    assert response.url == url("edit", segment.pk)


def test_a_segment_that_cannot_be_refreshed_says_why(admin_client, monkeypatch):
    segment = Segment.objects.create(name="Subscribers", rules=[status_rule("subscribed")])

    def broken(segment):
        raise ValueError("Enter a number, like 42 or 19.90.")

    monkeypatch.setattr("wagtail_journeys.admin.segments.refresh_segment", broken)
    response = admin_client.post(url("refresh", segment.pk))
    assert response.status_code == 302 and response.url == url("edit", segment.pk)
    assert messages_of(response) == [
        "“Subscribers” could not be refreshed: Enter a number, like 42 or 19.90."
    ]


def test_member_actions_need_the_right_to_change_segments():
    segment = static_segment()
    response = Client().get(url("export_members", segment.pk))
    assert response.status_code == 302 and "/login/" in response.url
    client = client_for("view_segment", "export_contact")
    for name in ("refresh", "import_contacts", "export_members"):
        assert client.get(url(name, segment.pk)).status_code in (302, 403)
    assert client.post(url("refresh", segment.pk)).status_code in (302, 403)
    assert segment.refreshed_at is None


# Import


CSV = (
    "Email,First Name,last_name,phone,tags,notes\n"
    "new@example.com,Nina,New,+331234,vip; Newsletter,ignored\n"
    "KNOWN@example.com,Kay,Overwrite,,vip,\n"
    ",No,Email,,,\n"
    "not-an-email,Bad,Address,,,\n"
    "new@example.com,Nina,Again,,,\n"
    ",,,,,\n"
    "member@example.com,,,,,\n"
)


def upload(client, segment, content, name="contacts.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        url("import_contacts", segment.pk), {"file": SimpleUploadedFile(name, data, "text/csv")}
    )


def test_a_csv_import_runs_end_to_end(admin_client, django_capture_on_commit_callbacks):
    known = ContactFactory(email="known@example.com", first_name="", last_name="Known")
    member = ContactFactory(email="member@example.com")
    segment = static_segment("Imported", member)
    ContactTag.tag_model().objects.create(name="VIP")

    page = admin_client.get(url("import_contacts", segment.pk))
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, segment, CSV)
    job = SegmentImport.objects.get()
    assert response.status_code == 302
    assert response.url == url("import_status", segment.pk, job.pk)
    assert messages_of(response) == ["These columns are not imported: notes."]

    status = admin_client.get(url("import_status_json", segment.pk, job.pk)).json()
    assert status["status"] == "done" and status["finished"]
    assert (status["total_rows"], status["processed_rows"]) == (6, 6)
    assert (status["created"], status["updated"], status["added"]) == (1, 1, 2)
    assert status["error_count"] == 3
    assert [(error["row"], error["value"]) for error in status["errors"]] == [
        (4, ""),
        (5, "not-an-email"),
        (6, "new@example.com"),
    ]
    assert "No email address" in status["errors"][0]["reason"]
    assert "Not a valid email address" in status["errors"][1]["reason"]
    assert "same email address as row 2" in status["errors"][2]["reason"]

    new = Contact.objects.get(email="new@example.com")
    assert (new.first_name, new.last_name, new.phone, new.status) == (
        "Nina",
        "New",
        "+331234",
        "pending",
    )
    # An existing tag is reused whatever its case, as the tag rule matches it.
    assert sorted(new.tags.names()) == ["Newsletter", "VIP"]
    known.refresh_from_db()
    # An empty field is filled; a stored one is kept.
    assert (known.first_name, known.last_name) == ("Kay", "Known")
    assert list(known.tags.names()) == ["VIP"]
    assert set(segment.memberships.values_list("contact__email", flat=True)) == {
        "new@example.com",
        "known@example.com",
        "member@example.com",
    }
    entered = Event.objects.filter(name="segment_entered", properties__segment_id=segment.pk)
    assert set(entered.values_list("contact_id", flat=True)) == {new.pk, known.pk}
    segment.refresh_from_db()
    assert segment.member_count == 3
    job.refresh_from_db()
    assert job.contents == "" and job.created_by.username == "admin"

    report = admin_client.get(url("import_status", segment.pk, job.pk)).content.decode()
    assert "<progress" in report and "data-import-errors" in report
    assert "not-an-email" in report and "<script>" not in report


def test_a_large_import_runs_in_chunks_and_resumes(
    admin_client, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 2)
    # Every task run stops after one chunk and queues the next one.
    monkeypatch.setattr(imports, "TASK_SECONDS", 0)
    segment = static_segment()
    rows = "".join(f"person{n}@example.com,Person {n}\n" for n in range(7))
    with django_capture_on_commit_callbacks(execute=True):
        upload(admin_client, segment, "email,first_name\n" + rows + "person3@example.com,Dup\n")
    job = SegmentImport.objects.get()
    assert (job.status, job.processed_rows, job.created_count, job.error_count) == (
        "done",
        8,
        7,
        1,
    )
    assert job.errors[0]["row"] == 9
    assert segment.memberships.count() == 7


def test_an_import_the_queue_refuses_is_marked_failed(
    admin_client, django_capture_on_commit_callbacks, monkeypatch
):
    def unavailable(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("django_q.tasks.async_task", unavailable)
    segment = static_segment()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, segment, "email\na@example.com\n")
    assert response.status_code == 302
    status = admin_client.get(response.url.rstrip("/") + "/status/").json()
    assert status["status"] == "failed" and "could not be queued" in status["failure"]
    assert not Contact.objects.exists()


def test_the_status_page_polls_while_the_import_waits(admin_client):
    segment = static_segment()
    job = imports.create_import(segment, import_files.read_text("email\na@example.com\n"))
    page = admin_client.get(url("import_status", segment.pk, job.pk)).content.decode()
    assert '<progress value="0" max="1"' in page
    assert url("import_status_json", segment.pk, job.pk) in page
    assert "setInterval" in page and "qcluster" in page
    status = admin_client.get(url("import_status_json", segment.pk, job.pk)).json()
    assert status["status"] == "pending" and not status["finished"]
    other = static_segment("Other")
    assert admin_client.get(url("import_status", other.pk, job.pk)).status_code == 404


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "email,first_name\nj\u00e9r\u00f4me@example.com,J\u00e9r\u00f4me\n".encode("latin-1"),
            "not UTF-8",
        ),
        ("name,phone\nAda,123\n", "no “email” column"),
        (b"", "The submitted file is empty"),
        ("  \n\n", "The file is empty"),
        ("email\n\n", "no contacts below it"),
        ("email,Email\na@example.com,b@example.com\n", "appears twice"),
        (
            'email\n"a@example.com\nb@example.com\n',
            "not valid CSV: unexpected end of data (line 3)",
        ),
        (b"email\n" + b"a@example.com\n" * 800_000, "larger than 10 MB"),
    ],
)
def test_a_bad_file_is_refused_at_upload(admin_client, content, message):
    segment = static_segment()
    response = upload(admin_client, segment, content)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SegmentImport.objects.exists()


def test_semicolon_files_and_a_byte_order_mark_are_read():
    csv_file = import_files.read_bytes("\ufeffEmail;First name\nada@example.com;Ada\n".encode())
    assert csv_file.columns == {"email": 0, "first_name": 1}
    row = import_files.clean_rows(csv_file)[0]
    assert (row.email, row.fields) == ("ada@example.com", {"first_name": "Ada"})


def test_a_dynamic_segment_takes_no_import(admin_client):
    segment = Segment.objects.create(name="Buyers", rules=[status_rule("subscribed")])
    response = upload(admin_client, segment, "email\na@example.com\n")
    assert response.status_code == 302 and response.url == url("edit", segment.pk)
    assert "only into static segments" in messages_of(response)[0]
    assert not SegmentImport.objects.exists()
    assert "Import contacts" not in admin_client.get(url("edit", segment.pk)).content.decode()


def test_an_import_into_a_segment_made_dynamic_meanwhile_fails_cleanly():
    segment = static_segment()
    job = imports.create_import(segment, import_files.read_text("email\na@example.com\n"))
    Segment.objects.filter(pk=segment.pk).update(kind=Segment.Kind.DYNAMIC)
    job.segment.refresh_from_db()
    imports.run_import(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "no longer a static list" in job.failure
    assert not Contact.objects.exists()


# The management command


def test_the_import_command(tmp_path):
    segment = static_segment("Newsletter list")
    path = tmp_path / "contacts.csv"
    path.write_text(CSV, encoding="utf-8")
    out = StringIO()
    call_command("journeys_import_contacts", str(path), segment="Newsletter list", stdout=out)
    output = out.getvalue()
    assert "6 / 6 rows" in output
    assert "3 contacts created" in output and "3 rows refused" in output
    assert "row 5: not-an-email: Not a valid email address." in output
    assert "row 4: (empty): No email address." in output
    assert segment.memberships.count() == 3


def test_the_import_command_refuses_what_it_cannot_import(tmp_path):
    static_segment("List")
    Segment.objects.create(name="Buyers", rules=[status_rule("subscribed")])
    good = tmp_path / "good.csv"
    good.write_text("email\na@example.com\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nAda\n", encoding="utf-8")
    cases = [
        (good, "Nobody", "No segment is named 'Nobody'"),
        (good, "Buyers", "dynamic segment"),
        (bad, "List", "no “email” column"),
        (tmp_path / "missing.csv", "List", "Cannot read"),
    ]
    for file, segment, message in cases:
        with pytest.raises(CommandError, match=message):
            call_command("journeys_import_contacts", str(file), segment=segment, stdout=StringIO())
    assert not Contact.objects.exists()
