"""Admin views of records only the plugin writes: listed and inspected, never edited by hand."""

from django.urls import path
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import policy_registry, register_permission_policy


class LimitedPermissionPolicy(ModelPermissionPolicy):
    """Model permissions, restricted to ``actions``: any other action is refused to everyone.

    Records such as the message log and the consent audit are written by the
    plugin alone; not even a superuser should edit or delete one by hand.
    """

    def __init__(self, model, actions, auth_model=None):
        super().__init__(model, auth_model=auth_model)
        self.actions = frozenset(actions)

    def user_has_permission(self, user, action):
        return action in self.actions and super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def users_with_any_permission(self, actions):
        return super().users_with_any_permission([a for a in actions if a in self.actions])


class ReadOnlyViewSet(ModelViewSet):
    """A listing and an inspect page; records are never added, edited or deleted by hand."""

    inspect_view_enabled = True
    copy_view_enabled = False
    #: Actions the permission policy allows (to users holding the permission).
    allowed_actions = ("view",)

    def register_permissions(self):
        if policy_registry.get_by_type(self.model, fallback=False) is None:
            register_permission_policy(
                self.model,
                LimitedPermissionPolicy(self.model, self.allowed_actions),
                exact_class=True,
            )
        super().register_permissions()

    def get_urlpatterns(self):
        # Only the listing and the inspect page: no add, edit, copy or delete
        # views exist, so no form is ever built for these models.
        conv = self.pk_path_converter
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path(f"inspect/<{conv}:pk>/", self.inspect_view, name="inspect"),
        ]


class InvalidFiltersMixin:
    """A listing given filter values it cannot use lists nothing and says why.

    Wagtail's index view ignores an invalid filter form and lists everything,
    which reads as if the filter had matched every row.
    """

    def filter_queryset(self, queryset):
        if self.filters and not self.filters.is_valid():
            return queryset.none()
        return super().filter_queryset(queryset)

    @cached_property
    def no_results_message(self):
        if self.filters and not self.filters.is_valid():
            form = self.filters.form
            problems = "; ".join(
                f"{form[name].label}: {' '.join(errors)}"
                if name in form.fields
                else " ".join(errors)
                for name, errors in form.errors.items()
            )
            return _("These filters cannot be applied. %(problems)s") % {"problems": problems}
        return super().no_results_message
