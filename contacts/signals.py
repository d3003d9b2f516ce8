"""What happened to contacts, for apps above (workflows) to react to.

Sent after the transaction commits, with ids only, so that a receiver never sees a contact
that was rolled back and can safely enqueue work.
"""

from django.dispatch import Signal

# kwargs: contact_id: int, origin: str (Contact.Origin)
contact_created = Signal()
# kwargs: contact_id: int, tag_name: str
contact_tag_added = Signal()
