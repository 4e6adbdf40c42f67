"""Forms of the cart, wishlist and checkout views.

Every POST goes through one of these, so a tampered or mistyped value (an
unknown product id, a quantity of "abc" or -1) becomes a message for the
visitor instead of reaching the cart API and failing there.
"""

import re

from django import forms

from .models import ProductPage

#: Most units of one product a single request may add or set.
MAX_QUANTITY = 99


class StorefrontForm(forms.Form):
    """A form that can summarise its errors in one line for ``django.contrib.messages``."""

    def error_summary(self) -> str:
        """“Quantity: Enter a whole number.”: every error, prefixed with its field's label."""
        parts = []
        for name, errors in self.errors.items():
            label = self[name].label if name in self.fields else None
            for error in errors:
                parts.append(f"{label}: {error}" if label else error)
        return " ".join(parts)


class ProductForm(StorefrontForm):
    """Names a product by page id; ``form.product`` is the ProductPage once valid."""

    #: Buying or saving needs a published product; removing one that has since
    #: been unpublished must still work.
    live_only = True
    product: ProductPage | None = None

    product_id = forms.IntegerField(label="Product", min_value=1, widget=forms.HiddenInput)

    def clean_product_id(self) -> int:
        product_id = self.cleaned_data["product_id"]
        products = ProductPage.objects.live() if self.live_only else ProductPage.objects.all()
        self.product = products.filter(pk=product_id).first()
        if self.product is None:
            raise forms.ValidationError("This product is not available.")
        return product_id


class ProductRemoveForm(ProductForm):
    live_only = False


class CartAddForm(ProductForm):
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, initial=1)


class CartUpdateForm(ProductRemoveForm):
    """Sets a line's quantity; 0 removes the line."""

    quantity = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every real card number passes (catches most typos)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class CheckoutForm(StorefrontForm):
    """Contact details and a simulated card.

    No payment happens: the card number is only checked for shape and never
    stored; ``cleaned_data["card_number"]`` keeps its last four digits.
    """

    email = forms.EmailField(
        help_text="We send the order confirmation here.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    name = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    card_number = forms.CharField(
        max_length=23,
        help_text="Payment is simulated: use 4242 4242 4242 4242.",
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name

    def clean_card_number(self) -> str:
        digits = re.sub(r"[\s-]", "", self.cleaned_data["card_number"])
        if not (digits.isdigit() and 12 <= len(digits) <= 19 and luhn_valid(digits)):
            raise forms.ValidationError(
                "Enter a valid card number (for this demo, 4242 4242 4242 4242)."
            )
        return digits[-4:]

    def split_name(self) -> tuple[str, str]:
        """(first name, last name) of the cleaned name; the last name may be empty."""
        first, _, last = self.cleaned_data["name"].partition(" ")
        return first, last
