"""Domain signals of the supporter base, for the feature apps that keep their own records of people
(the campaign site's sign-ups): people imports no feature app, so it tells them, and they subscribe
in their AppConfig.ready().

    address_data_requested(sender, emails)
        Someone asked, from the rights page, what the organisation holds about an address. Each
        receiver returns {"<section>": JSON-ready data} for what it holds under `emails` (an empty
        dict or None: nothing). A non-empty section makes the address known: its owner gets a link.

    person_erased(sender, person, emails)
        A person asked, from the rights page, to be erased. `person` is the anonymised Person, or
        None when the base held only the feature apps' records of the address; `emails` every
        address they were known by. Receivers forget who those addresses were, keeping what must
        stay counted, inside the erasure's transaction.

    text_requested(sender, number, text, tag)
        A feature app sends one transactional text (an event's reminder) to a number (E.164),
        whose owner consented. The app that holds the SMS provider (mailings) returns "sent",
        "failed" or "unknown" (it may have left), or None when no provider is set up.
"""

from django.dispatch import Signal

address_data_requested = Signal()
person_erased = Signal()
text_requested = Signal()
