import factory

from wagtail_journeys.models import Contact


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = "Ada"


class AnonymousContactFactory(ContactFactory):
    email = None
    first_name = ""
