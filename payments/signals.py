"""What the pay page tells other workflows, without knowing them."""

from django.dispatch import Signal

# A customer opened an open pay link: booking_code, ip (the client's address), device (a hash of the browser's headers).
pay_page_opened = Signal()
