"""Calling hours are the called person's: 20:00 in Paris is 15:00 in Guadeloupe and 05:00 in
Nouméa. A person's time zone is read from their number (phonenumbers' prefix data). A number whose
prefix spans several zones (Réunion and Mayotte share +262 692) keeps all of them, joined by "|",
and is called only when it is inside the hours in every one. A number the data does not place is
in the organisation's own zone (settings.TIME_ZONE)."""

import datetime
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from phonenumbers import timezone as number_zones

SEPARATOR = "|"
END_OF_DAY = datetime.time(23, 59)
UNKNOWN = "Etc/Unknown"


def zone_of(number):
    """The zone key of an E.164 number, read from its prefix (about 15 µs a number)."""
    if not number or not number.startswith("+"):
        return settings.TIME_ZONE
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return settings.TIME_ZONE
    zones = number_zones.time_zones_for_geographical_number(parsed)
    if UNKNOWN in zones:
        zones = number_zones.time_zones_for_number(parsed)
    zones = sorted(zone for zone in zones if zone != UNKNOWN)
    return SEPARATOR.join(zones) if zones else settings.TIME_ZONE


def is_open(zone_key, now, *, calling_from, calling_until, days):
    """Whether `now` (aware) is inside the calling hours (wall-clock times, [from, until); an
    `until` of 23:59 runs to midnight) and days (ISO weekdays, 1 = Monday) in every zone of the key."""
    if calling_until >= END_OF_DAY:
        calling_until = datetime.time.max
    for name in zone_key.split(SEPARATOR):
        try:
            local = now.astimezone(ZoneInfo(name))
        except (KeyError, ValueError):  # a zone this machine's tz database lacks
            local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
        if local.isoweekday() not in days or not (calling_from <= local.time() < calling_until):
            return False
    return True


def open_for(campaign, zone_key, now):
    """Whether the campaign's hours and days are open at `now` in the zone(s) of the key."""
    hours = {"calling_from": campaign.calling_from, "calling_until": campaign.calling_until}
    return is_open(zone_key, now, days=campaign.calling_days, **hours)


def open_zones(campaign, now):
    """The campaign's zone keys that are inside its calling hours at `now`."""
    return [key for key in campaign.zones if open_for(campaign, key, now)]


def next_opening(campaign, now):
    """When calling hours next open for someone on the list (the first quarter hour at which one
    of its zones is open): for the page of a caller who arrives out of hours. Looks a week ahead."""
    if open_zones(campaign, now):
        return now
    moment = now.replace(second=0, microsecond=0)
    moment += datetime.timedelta(minutes=15 - moment.minute % 15)
    for _step in range(7 * 24 * 4):
        if open_zones(campaign, moment):
            return moment
        moment += datetime.timedelta(minutes=15)
    return None
