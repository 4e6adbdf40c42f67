"""docs/installation.md, followed literally on a new Wagtail project.

``wagtail start`` makes the project; the package is built and installed by pip
from this checkout into a directory of its own (the dependencies are .venv's);
every change the page documents is applied to the project, its code read from
the page's own code blocks, so that the page and this test cannot drift apart.
Then the project migrates, ``runserver`` and ``qcluster`` run as the page says,
a visitor (urllib with a cookie jar) reads the home page and signs up on a
form page, and the project's SQLite database must show the visitor's events,
the subscribed contact and the "Welcome series" email sent through Anymail's
test backend.

The only departures from the page, each for this machine: ``EMAIL_BACKEND`` is
Anymail's test backend (set in ``settings/local.py``, as the page says for
development), and the form page is the site's own content (Wagtail's form page
example), not an installation step.

No pytest-django database: everything happens in the project's processes.
"""

from __future__ import annotations

import ast
import http.cookiejar
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from contextlib import suppress
from pathlib import Path

from tests.processes import ROOT, free_port, wait_for

DOCS = ROOT / "docs" / "installation.md"
BIN = Path(sys.executable).parent
# A desktop browser's user agent: the tracker ignores bots, and urllib's own
# "Python-urllib" is one.
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
EMAIL = "ada@example.com"

# The site's own form page, from Wagtail's documentation ("Form builder").
FORM_MODELS = """

from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.contrib.forms.models import AbstractEmailForm, AbstractFormField
from wagtail.contrib.forms.panels import FormSubmissionsPanel
from wagtail.fields import RichTextField


class FormField(AbstractFormField):
    page = ParentalKey("FormPage", on_delete=models.CASCADE, related_name="form_fields")


class FormPage(AbstractEmailForm):
    intro = RichTextField(blank=True)
    thank_you_text = RichTextField(blank=True)

    content_panels = AbstractEmailForm.content_panels + [
        FormSubmissionsPanel(),
        FieldPanel("intro"),
        InlinePanel("form_fields", label="Form fields"),
        FieldPanel("thank_you_text"),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("from_address"), FieldPanel("to_address")]),
                FieldPanel("subject"),
            ],
            heading="Email",
        ),
    ]
"""
FORM_TEMPLATE = """{% extends "base.html" %}
{% load wagtailcore_tags %}
{% block content %}
    <h1>{{ page.title }}</h1>
    {{ page.intro|richtext }}
    <form action="{% pageurl page %}" method="POST">
        {% csrf_token %}
        {{ form.as_p }}
        <input type="submit">
    </form>
{% endblock content %}
"""
LANDING_TEMPLATE = """{% extends "base.html" %}
{% load wagtailcore_tags %}
{% block content %}
    <h1>{{ page.title }}</h1>
    {{ page.thank_you_text|richtext }}
{% endblock content %}
"""


# -- The page's code blocks ----------------------------------------------------------------------


def code_blocks(heading: str, language: str) -> list[str]:
    """The ``language`` code blocks of the installation page's section ``## <heading>``."""
    sections = re.split(r"^## ", DOCS.read_text(), flags=re.MULTILINE)
    section = next((s for s in sections if s.startswith(heading)), None)
    assert section is not None, f"docs/installation.md has no section '## {heading}'"
    return re.findall(rf"^```{language}\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)


def replace_once(path: Path, old: str, new: str) -> None:
    """Replace ``old``, which must be in the generated file exactly once."""
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name} no longer has exactly one {old!r}"
    path.write_text(text.replace(old, new))


def list_entries(node: ast.AST) -> list[str]:
    """The strings of a list literal on the page."""
    assert isinstance(node, ast.List)
    return [element.value for element in node.elts]


# -- Following the page ---------------------------------------------------------------------------


def install_from_checkout(target: Path) -> None:
    """Section 1: ``pip install wagtail-journeys``, from this checkout, into ``target``."""
    (install,) = code_blocks("1. Install the package", "sh")
    assert install.splitlines()[0] == "pip install wagtail-journeys"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    try:
        import hatchling  # noqa: F401

        command.append("--no-build-isolation")
    except ImportError:
        pass  # pip fetches hatchling from the package index to build the wheel
    run(command + ["--target", str(target), str(ROOT)], cwd=target.parent, timeout=180)


def apply_settings(project: Path) -> None:
    """Section 2, into ``mysite/settings/base.py``; the email backend into ``local.py``."""
    settings_block, sqlite_block = code_blocks("2. Settings", "python")
    base = project / "mysite" / "settings" / "base.py"
    generated = base.read_text()
    tree = ast.parse(settings_block)
    assigned = {node.targets[0].id: node for node in tree.body if isinstance(node, ast.Assign)}

    # INSTALLED_APPS: the page's "# ..." stand for the project's own entries;
    # add the page's entries the project lacks, before the first it already has.
    apps = list_entries(assigned["INSTALLED_APPS"].value)
    present = [app for app in apps if f'    "{app}",\n' in generated]
    missing = [app for app in apps if app not in present]
    assert present and missing, (present, missing)
    lines = "".join(f'    "{app}",\n' for app in missing)
    replace_once(base, f'    "{present[0]}",\n', f'{lines}    "{present[0]}",\n')

    # MIDDLEWARE: the page's entry that follows AuthenticationMiddleware, there.
    middleware = list_entries(assigned["MIDDLEWARE"].value)
    auth = "django.contrib.auth.middleware.AuthenticationMiddleware"
    ours = middleware[middleware.index(auth) + 1]
    assert f'"{ours}",' in settings_block
    replace_once(base, f'    "{auth}",\n', f'    "{auth}",\n    "{ours}",\n')

    # Everything after MIDDLEWARE (Q_CLUSTER, WAGTAIL_JOURNEYS, email), then the
    # SQLite options, as they are on the page.
    rest = settings_block.splitlines(keepends=True)[assigned["MIDDLEWARE"].end_lineno :]
    base.write_text(base.read_text() + "\n" + "".join(rest) + "\n" + sqlite_block)

    # The page: dev.py's console backend wins in development; override it in local.py.
    page = DOCS.read_text()
    assert "`settings/dev.py`" in page and "`settings/local.py`" in page
    (project / "mysite" / "settings" / "local.py").write_text(
        'EMAIL_BACKEND = "anymail.backends.test.EmailBackend"\n'
    )


def apply_urls(project: Path) -> None:
    """Section 3: the page's URL patterns, before Wagtail's catch-all."""
    (block,) = code_blocks("3. URLs", "python")
    urls = project / "mysite" / "urls.py"
    import_line = block.splitlines()[0]
    assert import_line in urls.read_text().splitlines()
    patterns = [
        line
        for line in block.splitlines()
        if line.strip().startswith("path(") and "wagtail_urls" not in line
    ]
    assert len(patterns) == 2, patterns
    # The project's first urlpatterns list; the catch-all is appended after it.
    text = urls.read_text()
    start = text.index("urlpatterns = [\n")
    end = text.index("\n]\n", start)
    urls.write_text(text[:end] + "\n" + "\n".join(patterns) + text[end:])


def apply_templates(project: Path) -> None:
    """Section 5: the tracker tags in the base template, just before ``</body>``."""
    tracker = code_blocks("5. Templates", "django")[0]
    assert "{% journeys_tracker %}" in tracker
    indented = textwrap.indent(tracker, " " * 8)
    replace_once(
        project / "mysite" / "templates" / "base.html", "    </body>", indented + "    </body>"
    )


def add_form_page(project: Path) -> None:
    """The site's own form page (not an installation step): Wagtail's example."""
    models = project / "home" / "models.py"
    models.write_text(models.read_text() + FORM_MODELS)
    templates = project / "home" / "templates" / "home"
    (templates / "form_page.html").write_text(FORM_TEMPLATE)
    (templates / "form_page_landing.html").write_text(LANDING_TEMPLATE)


def manage_commands() -> list[list[str]]:
    """Section 4's commands, ``python manage.py ...`` without comments."""
    (block,) = code_blocks("4. Migrate and run a worker", "sh")
    commands = [line.split("#")[0].split() for line in block.splitlines()]
    assert all(command[:2] == ["python", "manage.py"] for command in commands), commands
    return [command[2:] for command in commands]


def first_journey_code() -> str:
    """Section 6's Python, run in ``manage.py shell`` with ``newsletter_page`` set."""
    (block,) = code_blocks("6. A first journey", "python")
    assert "newsletter_page" in block
    return block


# -- Processes -------------------------------------------------------------------------------------


def project_env(target: Path) -> dict[str, str]:
    """This environment, minus the suite's settings, with ``target`` first on the path."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(target)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(command: list[str], cwd: Path, env: dict | None = None, timeout: float = 120) -> str:
    """Run ``command`` to its end; its output, or a failure that shows it."""
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


class Background:
    """A long-running process of the project, its output in a log file."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict):
        self.name = name
        self.log = cwd.parent / f"{name}.log"
        with open(self.log, "wb") as log:
            # A session of its own, so that stop() can find the qcluster's workers.
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return f"== {self.name} (exit {self.process.poll()}):\n{self.log.read_text()[-6000:]}"

    def stop(self) -> None:
        # SIGTERM to the process alone: a qcluster stops its workers itself
        # (in about a second), where a signal to all of them hangs it.
        if self.process.poll() is None:
            self.process.terminate()
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        # Whatever is left of its session, at once.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


class Visitor:
    """A browser, as far as the site can tell: cookies, a browser's user agent."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(
            self.base + path, data=data, headers={"User-Agent": USER_AGENT, **(headers or {})}
        )
        with self.opener.open(request, timeout=30) as response:
            return response.status, response.read().decode()

    def get(self, path: str) -> str:
        status, body = self.request(path)
        assert status == 200, (path, status)
        return body

    def cookie(self, name: str) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == name)


def server_ready(base: str) -> bool:
    """Whether ``runserver`` answers yet."""
    try:
        urllib.request.urlopen(base + "/static/wagtail_journeys/tracker.js", timeout=2)
    except urllib.error.HTTPError:
        return True  # answering, whatever the status
    except OSError:
        return False
    return True


def query(database: Path, sql: str, *params) -> list[tuple]:
    """Rows of the project's database, read-only: WAL lets this read beside its writers."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as connection:
        return connection.execute(sql, params).fetchall()


# -- The test --------------------------------------------------------------------------------------


def test_the_installation_page_followed_on_a_new_wagtail_project(tmp_path):
    target = tmp_path / "site-packages"
    project = tmp_path / "mysite"
    project.mkdir()
    install_from_checkout(target)
    run([str(BIN / "wagtail"), "start", "mysite", str(project)], cwd=tmp_path)

    apply_settings(project)
    apply_urls(project)
    apply_templates(project)
    add_form_page(project)

    env = project_env(target)
    manage = [sys.executable, "manage.py"]
    migrate, qcluster = manage_commands()
    assert migrate == ["migrate"] and qcluster == ["qcluster"]
    run(manage + ["makemigrations", "home"], cwd=project, env=env)
    # migrate runs the system checks first: none of ours may complain.
    output = run(manage + migrate, cwd=project, env=env)
    assert not re.search(r"wagtail_journeys\.[EW]\d+", output), output

    setup = f"""
import json
import wagtail_journeys
from wagtail.models import Site
from home.models import FormField, FormPage

home = Site.objects.get(is_default_site=True).root_page
newsletter_page = home.add_child(instance=FormPage(
    title="Newsletter", slug="newsletter", thank_you_text="<p>Thank you for signing up.</p>"
))
FormField.objects.create(page=newsletter_page, label="Email", field_type="email", required=True)
{first_journey_code()}
print(json.dumps({{"package": wagtail_journeys.__file__, "home": home.pk}}))
"""
    output = run(manage + ["shell", "-c", setup], cwd=project, env=env)
    created = json.loads(output.strip().splitlines()[-1])
    # The copy pip installed, not the checkout's editable install.
    assert Path(created["package"]).is_relative_to(target), created["package"]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    database = project / "db.sqlite3"
    processes = [
        Background("qcluster", manage + qcluster, project, env),
        Background(
            "runserver", manage + ["runserver", "--noreload", f"127.0.0.1:{port}"], project, env
        ),
    ]
    try:
        wait_for(lambda: server_ready(base), 60, "runserver to answer", interval=0.2)
        # The system checks, as `manage.py check` (the page's advice) runs them.
        assert "System check identified no issues" in processes[1].log.read_text()
        visitor = Visitor(base)

        # The home page carries the tracker; its script is served from the package.
        home = visitor.get("/")
        script = re.search(r'<script src="([^"]+)" data-journeys-endpoint="([^"]+)"', home)
        assert script is not None, home[-2000:]
        assert script.group(1).endswith("wagtail_journeys/tracker.js")
        assert "journeys.track" in visitor.get(script.group(1))
        # What the script sends when the visitor leaves the page.
        beacon = json.dumps(
            {
                "name": "page_time",
                "properties": {"duration_ms": 4200},
                "path": "/",
                "page_id": created["home"],
            }
        )
        status, _ = visitor.request(
            script.group(2),
            beacon.encode(),
            {"Origin": base, "Content-Type": "text/plain;charset=UTF-8"},
        )
        assert status == 202

        # The signup form, with its CSRF token and the visitor's cookies.
        form = visitor.get("/newsletter/")
        assert 'name="email"' in form
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        fields = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "email": EMAIL})
        status, landing = visitor.request("/newsletter/", fields.encode(), {"Referer": base})
        assert status == 200 and "Thank you for signing up." in landing

        def welcome_sent():
            return query(
                database,
                "SELECT m.status, m.anymail_status, m.esp_message_id, t.name"
                " FROM wagtail_journeys_message m"
                " JOIN wagtail_journeys_emailtemplate t ON t.id = m.template_id"
                " WHERE m.to_email = ? AND m.status NOT IN ('queued', 'sending')",
                EMAIL,
            )

        (message,) = wait_for(welcome_sent, 60, "the welcome email to be sent")
        assert message[0] == "sent", message
        # Anymail's test backend: status "sent", its outbox index as the message id.
        assert message[1] == "sent" and message[2].isdigit(), message
        assert message[3] == "Welcome series: 1 Welcome", message

        (contact,) = query(
            database, "SELECT id, status FROM wagtail_journeys_contact WHERE email = ?", EMAIL
        )
        assert contact[1] == "subscribed"
        # Everything the visitor did, before and after giving the address, is theirs.
        events = query(
            database,
            "SELECT name, source, path FROM wagtail_journeys_event WHERE contact_id = ?",
            contact[0],
        )
        assert {
            ("page_viewed", "server", "/"),
            ("page_viewed", "server", "/newsletter/"),
            ("page_time", "browser", "/"),
        } <= set(events), events
        names = [name for name, _, _ in events]
        for name in ("form_submitted", "contact_identified", "contact_subscribed", "email_sent"):
            assert name in names, events
        assert visitor.cookie("journeys_visitor")
    except Exception as error:
        logs = "\n".join(process.output() for process in processes)
        raise AssertionError(f"{error}\n{logs}") from error
    finally:
        for process in processes:
            process.stop()
