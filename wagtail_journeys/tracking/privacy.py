"""Who may be tracked: consent and bot detection."""

from functools import lru_cache

from crawlerdetect import CrawlerDetect
from django.http import HttpRequest

from wagtail_journeys import conf

# Values of the consent cookie that mean "no"; any other value means "yes".
# Consent platforms write all sorts of truthy values, but agree on these.
_REFUSALS = frozenset({"", "0", "false", "no", "denied", "deny", "reject", "rejected"})

_crawler_detect = CrawlerDetect()


@lru_cache(maxsize=2048)
def is_bot(user_agent: str) -> bool:
    """True for crawlers, spiders, link checkers and other scripts.

    The patterns come from CrawlerDetect, which is kept up to date by its
    maintainers; results are cached because the same few user agents repeat.
    """
    return bool(_crawler_detect.isCrawler(user_agent))


def has_consent(request: HttpRequest) -> bool:
    """Whether the consent mode lets us track this request."""
    mode = conf.get_setting("CONSENT_MODE")
    if mode == conf.CONSENT_ALWAYS:
        return True
    if mode == conf.CONSENT_COOKIE:
        value = request.COOKIES.get(conf.get_setting("CONSENT_COOKIE_NAME"))
        return value is not None and value.strip().lower() not in _REFUSALS
    if mode == conf.CONSENT_PRIVACY_SIGNALS:
        # Global Privacy Control (Sec-GPC: 1) and the older Do Not Track (DNT: 1).
        return request.headers.get("Sec-GPC") != "1" and request.headers.get("DNT") != "1"
    # checks.py reports an unknown mode; until it is fixed, track nobody.
    return False


def is_trackable(request: HttpRequest) -> bool:
    """Tracking is on, the visitor consented and is not a bot."""
    return (
        bool(conf.get_setting("TRACKING_ENABLED"))
        and not is_bot(request.headers.get("User-Agent", ""))
        and has_consent(request)
    )
